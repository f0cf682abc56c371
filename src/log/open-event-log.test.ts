import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../config/settings.js';
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
  for (const url of ['redis://broker:9092/clicks', '/plain/path', 'File:/x', '']) {
    assert.throws(
      () => parseEventLogUrl(url),
      (error: unknown) =>
        error instanceof UnsupportedBackendError &&
        error.message ===
          `unsupported event log URL "${url}": expected file:<dir> or kafka://host:port/topic`,
      url,
    );
  }
});

void test('a file URL with a host or no path is refused', () => {
  assert.throws(() => parseEventLogUrl('file://data/log'), /invalid event log URL/);
  assert.throws(() => parseEventLogUrl('file:'), /directory is empty/);
});

void test('kafka:// URLs name brokers, a topic and its partition count (default 6)', () => {
  assert.deepEqual(parseEventLogUrl('kafka://127.0.0.1:9092/clicks'), {
    backend: 'kafka',
    bootstrap: ['127.0.0.1:9092'],
    topic: 'clicks',
    partitions: 6,
  });
  assert.deepEqual(
    parseEventLogUrl('kafka://a.example:9092,[::1]:9093/ad.clicks-v2?partitions=12&spread=3&hot=500'),
    {
      backend: 'kafka',
      bootstrap: ['a.example:9092', '[::1]:9093'],
      topic: 'ad.clicks-v2',
      partitions: 12,
      spread: 3,
      hotThreshold: 500,
    },
  );
});

void test('a malformed kafka:// URL is a ConfigError that names the part at fault', () => {
  const cases: [string, RegExp][] = [
    ['kafka:broker:9092/clicks', /starts with kafka:\/\//],
    ['kafka://broker:9092', /no topic/],
    ['kafka:///clicks', /no broker/],
    ['kafka://broker/clicks', /broker "broker" is not host:port/],
    ['kafka://broker:0/clicks', /broker "broker:0"/],
    ['kafka://broker:70000/clicks', /broker "broker:70000"/],
    ['kafka://a:1,,b:2/clicks', /broker "" is not host:port/],
    ['kafka://broker:9092/', /topic "" is not/],
    ['kafka://broker:9092/a/b', /topic "a\/b" is not/],
    ['kafka://broker:9092/clicks?partitions=0', /partitions=0 is not an integer 1-10000/],
    ['kafka://broker:9092/clicks?partitions=2.5', /partitions=2.5/],
    ['kafka://broker:9092/clicks?partitions=4&spread=5', /spread=5 is not an integer 1-4/],
    ['kafka://broker:9092/clicks?hot=-1', /hot=-1 is not a rate/],
    ['kafka://broker:9092/clicks?parts=3', /unknown parameter "parts"/],
    ['kafka://broker:9092/clicks?partitions=3&partitions=4', /"partitions" given twice/],
    ['kafka://broker:9092/%E0%A4%A', /not percent-encoded/],
  ];
  for (const [url, message] of cases) {
    assert.throws(
      () => parseEventLogUrl(url),
      (error: unknown) =>
        error instanceof ConfigError && message.test(error.message) && error.message.includes(url),
      url,
    );
  }
});
