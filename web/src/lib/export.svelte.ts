import { ApiFailure, downloadUrl } from './api';

/** Where an export stands: rows (CSV) or bytes (PDF) received so far, of how many rows. */
export interface ExportProgress {
  bytes: number;
  rows: number;
  totalRows: number | undefined;
}

/**
 * One export download with its progress: the body is read as it streams in (rows counted by
 * line for CSV), then handed to the browser as a file under the server's name. Cancel aborts
 * the request, and the server stops reading its rows.
 *
 * @example
 * const job = new ExportJob();
 * await job.run(`/api/admin/audit/export?format=csv`, 'csv');
 */
export class ExportJob {
  progress = $state<ExportProgress | undefined>(undefined);
  busy = $state(false);
  error = $state<unknown>(undefined);
  private controller: AbortController | undefined;

  async run(path: string, format: 'csv' | 'pdf'): Promise<boolean> {
    this.busy = true;
    this.error = undefined;
    this.controller = new AbortController();
    this.progress = { bytes: 0, rows: 0, totalRows: undefined };
    try {
      const res = await fetch(downloadUrl(path), { credentials: 'same-origin', signal: this.controller.signal });
      if (!res.ok || !res.body) {
        const body = (await res.json().catch(() => null)) as { error?: { code?: string } } | null;
        throw new ApiFailure(res.status, body?.error?.code ?? 'unknown');
      }
      const total = Number(res.headers.get('x-export-rows'));
      const totalRows = Number.isFinite(total) && res.headers.has('x-export-rows') ? total : undefined;
      const chunks: Uint8Array[] = [];
      const reader = res.body.getReader();
      let bytes = 0;
      let lines = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        bytes += value.byteLength;
        if (format === 'csv') for (const b of value) if (b === 0x0a) lines += 1;
        // The header line is not a row.
        this.progress = { bytes, rows: Math.max(0, lines - 1), totalRows };
      }
      const name = fileName(res.headers.get('content-disposition')) ?? `export.${format}`;
      save(
        new Blob(chunks as BlobPart[], { type: res.headers.get('content-type') ?? 'application/octet-stream' }),
        name,
      );
      return true;
    } catch (err) {
      if (err instanceof ApiFailure) this.error = err;
      else if (err instanceof DOMException && err.name === 'AbortError') this.error = new ApiFailure(0, 'aborted');
      else this.error = new ApiFailure(0, 'network');
      return false;
    } finally {
      this.busy = false;
      this.controller = undefined;
    }
  }

  cancel(): void {
    this.controller?.abort();
  }
}

/** The file name of a Content-Disposition header (filename* first, as RFC 6266 says). */
function fileName(header: string | null): string | undefined {
  if (!header) return undefined;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star?.[1]) return decodeURIComponent(star[1]);
  return /filename="([^"]+)"/i.exec(header)?.[1];
}

/** Hands a finished file to the browser's downloads. */
function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
