import { INVALID_REASONS, type Bucket } from './api.js';

/** The series on screen as CSV, one row a bucket, the columns of the query API. */
export function seriesCsv(subject: string, series: readonly Bucket[]): string {
  const header = [
    'subject',
    'ts',
    'impressions',
    'clicks',
    'ctr',
    ...INVALID_REASONS.map((r) => `invalid_${r}`),
    'final',
  ];
  const lines = [header.join(',')];
  for (const b of series) {
    lines.push(
      [
        subject,
        b.ts,
        b.impressions,
        b.clicks,
        b.ctr,
        ...INVALID_REASONS.map((r) => b.invalid[r]),
        b.final,
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Saves `text` as a file (a blob URL: nothing leaves the page). */
export function download(name: string, text: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}
