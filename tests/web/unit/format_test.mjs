// Unit tests of the status page's number and time formatting (cluster/web/js/format.js).
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {backpressureLevel, backpressureLevelOf, formatBytes, formatCount, formatDuration,
        formatLatency, formatPercent, formatRate, formatTimestamp, formatWatermark, hasWatermark, kMissing}
    from '../../../cluster/web/js/format.js';

test('counts and rates use SI prefixes with one decimal below 100', () => {
  assert.equal(formatCount(0), '0');
  assert.equal(formatCount(950), '950');
  assert.equal(formatCount(0.25), '0.3');
  assert.equal(formatCount(12.34), '12.3');
  assert.equal(formatCount(894.9), '895');
  assert.equal(formatCount(1234), '1.2 K');
  assert.equal(formatCount(123456), '123 K');
  assert.equal(formatCount(999_999), '1.0 M');
  assert.equal(formatCount(-2500), '-2.5 K');
  assert.equal(formatRate(1_200_000), '1.2 M/s');
  assert.equal(formatRate(950), '950/s');
  assert.equal(formatRate(0), '0/s');
});

test('sizes use binary units', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(3 * 2 ** 30), '3.0 GiB');
  assert.equal(formatBytes(200 * 2 ** 20), '200 MiB');
});

test('durations pick a readable unit', () => {
  assert.equal(formatDuration(850), '850 ms');
  assert.equal(formatDuration(12_345), '12.3 s');
  assert.equal(formatDuration(245_000), '4m 05s');
  assert.equal(formatDuration(2 * 3600_000 + 3 * 60_000), '2h 03m');
  assert.equal(formatDuration(3 * 86_400_000 + 4 * 3600_000), '3d 4h');
});

test('latencies below a millisecond are in microseconds', () => {
  assert.equal(formatLatency(0.85), '850 µs');
  assert.equal(formatLatency(0), '0 µs');
  assert.equal(formatLatency(3.254), '3.25 ms');
  assert.equal(formatLatency(42), '42 ms');
  assert.equal(formatLatency(12_300), '12.3 s');
});

test('percentages are clamped', () => {
  assert.equal(formatPercent(0.123), '12%');
  assert.equal(formatPercent(0.004), '0.4%');
  assert.equal(formatPercent(1.7), '100%');
  assert.equal(formatPercent(0), '0%');
});

test('timestamps and watermarks', () => {
  const ms = new Date(2026, 10, 23, 6, 7, 8, 9).getTime();
  assert.equal(formatTimestamp(ms), '2026-11-23 06:07:08');
  assert.equal(formatWatermark(ms), '06:07:08.009');
  assert.equal(formatTimestamp(-1), kMissing);
  // Flink's "no watermark" is Long.MIN_VALUE; JSON may also carry null.
  assert.equal(hasWatermark(-9223372036854775808), false);
  assert.equal(formatWatermark(null), 'no watermark');
  assert.equal(hasWatermark(ms), true);
});

test('backpressure levels follow Flink thresholds', () => {
  assert.equal(backpressureLevel(0), 'ok');
  assert.equal(backpressureLevel(0.1), 'ok');
  assert.equal(backpressureLevel(0.3), 'low');
  assert.equal(backpressureLevel(0.9), 'high');
  assert.equal(backpressureLevel(undefined), 'unknown');
});

test('missing and malformed input gives the placeholder', () => {
  for (const bad of [undefined, null, NaN, Infinity, '12', {}]) {
    assert.equal(formatCount(bad), kMissing);
    assert.equal(formatRate(bad), kMissing);
    assert.equal(formatBytes(bad), kMissing);
    assert.equal(formatDuration(bad), kMissing);
    assert.equal(formatPercent(bad), kMissing);
    assert.equal(formatLatency(bad), kMissing);
    assert.equal(formatTimestamp(bad), kMissing);
  }
});

test('a backpressure level the server reports wins over the ratio', () => {
  assert.equal(backpressureLevelOf({'backpressure-level': 'high', 'backpressure-ratio': 0}), 'high');
  assert.equal(backpressureLevelOf({'backpressure-level': 'bogus', 'backpressure-ratio': 0.3}),
               'low');
  assert.equal(backpressureLevelOf({}), 'unknown');
  assert.equal(backpressureLevelOf(undefined), 'unknown');
});
