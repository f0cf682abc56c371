import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { parseEventLogUrl, UnsupportedBackendError } from './open-event-log.js';

void test('file: URLs name a directory, relative ones against the working directory', () => {
  const cases: [string, string][] = [
    ['file:./data/log', resolve('data/log')],
    ['file:data/log', resolve('data/log')],
    ['file:/abs/path', '/abs/path'],
    ['file:///abs/path', '/abs/path'],
    ['file:///abs/with%20space', '/abs/with space'],
  ];
  for (const [url, dir] of cases) {
    assert.deepEqual(parseEventLogUrl(url), { backend: 'file', dir }, url);
  }
});

void test('other schemes are an UnsupportedBackendError with a one-line message', () => {
  for (const url of ['kafka://broker:9092/clicks', '/plain/path', 'File:/x', '']) {
    assert.throws(
      () => parseEventLogUrl(url),
      (error: unknown) =>
        error instanceof UnsupportedBackendError &&
        error.message === `unsupported event log URL "${url}": expected file:<dir> (kafka:// comes later)`,
      url,
    );
  }
});

void test('a file URL with a host or no path is refused', () => {
  assert.throws(() => parseEventLogUrl('file://data/log'), /invalid event log URL/);
  assert.throws(() => parseEventLogUrl('file:'), /directory is empty/);
});
