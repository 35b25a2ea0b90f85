/**
 * PayPal stand-in for the local demo: `tsx scripts/paypal-standin.ts [--port 7020] [--host 127.0.0.1]`.
 * Start KIS with `KIS_PAYPAL_BASE_URL` pointing here; any client id and secret work (except the
 * secret "wrong"). Runs until Ctrl-C or SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startPayPalStandIn } from './paypal-standin/server.js';

const HELP = `Usage: tsx scripts/paypal-standin.ts [options]

Runs a local stand-in for PayPal's REST API (OAuth2, Orders v2, Payments v2 refunds, webhooks) and
the payer's approval page, so KIS can take payments without reaching PayPal. Nothing is stored:
orders, webhooks and tokens are gone when it stops.

  --port PORT   port to listen on (default 7020)
  --host HOST   interface to listen on (default 127.0.0.1)
  -h, --help    this text

Any client id works with any secret except "wrong" (which gets invalid_client).`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '7020' },
      host: { type: 'string', default: '127.0.0.1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    process.stderr.write('--port must be a whole number from 0 to 65535\n');
    return 2;
  }

  const paypal = await startPayPalStandIn({ host: values.host, port });
  process.stdout.write(`PayPal stand-in on ${paypal.url} — start KIS with KIS_PAYPAL_BASE_URL=${paypal.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await paypal.close();
  return 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`PayPal stand-in: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
