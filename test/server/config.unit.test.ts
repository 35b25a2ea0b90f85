import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/src/config.js';

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('configuration', () => {
  it('runs on embedded defaults when nothing is set', () => {
    const config = loadConfig({}, '/srv/kis');
    expect(config.KIS_HTTP_PORT).toBe(3000);
    expect(config.KIS_UDP_PORT).toBe(7010);
    expect(config.KIS_HOST).toBe('127.0.0.1');
    expect(config.dataDir).toBe('/srv/kis/data');
    expect(config.publicUrl).toBe('http://127.0.0.1:3000');
    expect(config.KIS_HTTPS_ONLY).toBe(false);
    expect(config.KIS_TRUST_PROXY).toBe(false);
    expect(config.KIS_LOG_LEVEL).toBe('info');
    expect(config.KIS_DB_ENGINE).toBe('auto');
    expect(config.MONGODB_URI).toBeUndefined();
    expect(config.SMTP_URL).toBeUndefined();
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ KIS_HTTP_PORT: '' }).KIS_HTTP_PORT).toBe(3000);
  });

  it('reads every setting from the environment', () => {
    const config = loadConfig(
      {
        KIS_HTTP_PORT: '8080',
        KIS_UDP_PORT: '9000',
        KIS_HOST: '0.0.0.0',
        KIS_DATA_DIR: '/var/lib/kis',
        MONGODB_URI: 'mongodb://db:27017/kis?replicaSet=rs0',
        KIS_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
        KIS_PUBLIC_URL: 'https://portal.example.com/',
        SMTP_URL: 'smtp://mail:1025',
        KIS_HTTPS_ONLY: 'true',
        KIS_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
        KIS_LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
      },
      '/',
    );
    expect(config).toMatchObject({
      KIS_HTTP_PORT: 8080,
      KIS_UDP_PORT: 9000,
      KIS_HOST: '0.0.0.0',
      dataDir: '/var/lib/kis',
      publicUrl: 'https://portal.example.com',
      KIS_HTTPS_ONLY: true,
      KIS_TRUST_PROXY: ['10.0.0.0/8', '127.0.0.1'],
      KIS_LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    });
  });

  it('accepts a hop count and yes/no words for the proxy setting', () => {
    expect(loadConfig({ KIS_TRUST_PROXY: '2' }).KIS_TRUST_PROXY).toBe(2);
    expect(loadConfig({ KIS_TRUST_PROXY: 'true' }).KIS_TRUST_PROXY).toBe(true);
    expect(loadConfig({ KIS_TRUST_PROXY: 'off' }).KIS_TRUST_PROXY).toBe(false);
  });

  it.each([
    ['KIS_HTTP_PORT', 'abc'],
    ['KIS_HTTP_PORT', '70000'],
    ['KIS_UDP_PORT', '-1'],
    ['KIS_HOST', 'not a host'],
    ['MONGODB_URI', 'postgres://x'],
    ['KIS_MASTER_KEY', 'too-short'],
    ['KIS_PUBLIC_URL', 'portal'],
    ['SMTP_URL', 'mail.example.com'],
    ['KIS_HTTPS_ONLY', 'maybe'],
    ['KIS_TRUST_PROXY', 'everyone'],
    ['KIS_LOG_LEVEL', 'loud'],
    ['NODE_ENV', 'staging'],
    ['KIS_DB_ENGINE', 'sqlite'],
  ])('names %s when its value %j is bad', (name, value) => {
    const message = errorOf({ [name]: value });
    expect(message.startsWith(`${name} `)).toBe(true);
    expect(message).not.toContain('\n');
  });

  it('does not echo secrets in the error', () => {
    expect(errorOf({ KIS_MASTER_KEY: 'hunter2-secret' })).not.toContain('hunter2');
    expect(errorOf({ SMTP_URL: 'ftp://user:pa55word@x' })).not.toContain('pa55word');
  });

  it('needs both TLS files and then defaults to an https address', () => {
    expect(errorOf({ KIS_TLS_CERT: '/etc/kis/cert.pem' })).toMatch(/^KIS_TLS_KEY /);
    expect(errorOf({ KIS_TLS_KEY: '/etc/kis/key.pem' })).toMatch(/^KIS_TLS_CERT /);
    const config = loadConfig({
      KIS_TLS_CERT: '/etc/kis/cert.pem',
      KIS_TLS_KEY: '/etc/kis/key.pem',
      KIS_HTTP_PORT: '8443',
    });
    expect(config.publicUrl).toBe('https://127.0.0.1:8443');
  });

  it('requires an https public URL in HTTPS-only mode', () => {
    expect(errorOf({ KIS_HTTPS_ONLY: 'true' })).toMatch(/^KIS_PUBLIC_URL .*https/);
  });
});
