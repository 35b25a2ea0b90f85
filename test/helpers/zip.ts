import yauzl from 'yauzl';

/** Reads a ZIP fully: entry names and their contents. */
export function unzip(bytes: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(bytes, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('no zip'));
      const out = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e ?? new Error('no stream'));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(out));
      zip.readEntry();
    });
  });
}

/** A JSON entry of an unzipped file, parsed. */
export function jsonOf(files: Map<string, Buffer>, name: string): unknown {
  const bytes = files.get(name);
  if (!bytes) throw new Error(`${name} missing; the ZIP holds ${[...files.keys()].join(', ')}`);
  return JSON.parse(bytes.toString('utf8'));
}
