// Number, size, time and rate formatting for the status page.
// Pure functions without DOM access, so the unit tests in tests/web/unit run them in Node.
// Every function accepts missing or malformed input (the REST API may omit fields) and
// then returns the placeholder "—" instead of "NaN" or "undefined".

export const kMissing = '—';

function isNumber(value) {
  return typeof value === 'number' && Number.isFinite(value);
}

const kSiPrefixes = ['', ' K', ' M', ' G', ' T', ' P'];

// 950 → "950", 894.9 → "895", 12.34 → "12.3", 1234 → "1.2 K", 123456 → "123 K",
// 1.5e6 → "1.5 M".
export function formatCount(value) {
  if (!isNumber(value)) return kMissing;
  const sign = value < 0 ? '-' : '';
  let scaled = Math.abs(value);
  let prefix = 0;
  while (scaled >= 999.95 && prefix < kSiPrefixes.length - 1) {
    scaled /= 1000;
    prefix += 1;
  }
  let digits;
  if (prefix === 0) {
    digits = Number.isInteger(scaled) || scaled >= 99.95 ? 0 : 1;
  } else {
    digits = scaled < 99.95 ? 1 : 0;
  }
  return sign + scaled.toFixed(digits) + kSiPrefixes[prefix];
}

// Records per second: "1.2 M/s", "950/s", "0/s".
export function formatRate(perSecond) {
  if (!isNumber(perSecond)) return kMissing;
  return formatCount(perSecond) + '/s';
}

const kBinaryUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

// 512 → "512 B", 1536 → "1.5 KiB", 3 * 2**30 → "3.0 GiB".
export function formatBytes(bytes) {
  if (!isNumber(bytes) || bytes < 0) return kMissing;
  let scaled = bytes;
  let unit = 0;
  while (scaled >= 1024 && unit < kBinaryUnits.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  const digits = unit === 0 ? 0 : scaled < 99.95 ? 1 : 0;
  return scaled.toFixed(digits) + ' ' + kBinaryUnits[unit];
}

// Durations: "850 ms", "12.3 s", "4m 05s", "2h 03m", "3d 4h".
export function formatDuration(ms) {
  if (!isNumber(ms) || ms < 0) return kMissing;
  if (ms < 1000) return Math.round(ms) + ' ms';
  if (ms < 60_000) return (ms / 1000).toFixed(1) + ' s';
  const totalSeconds = Math.floor(ms / 1000);
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  const two = (n) => String(n).padStart(2, '0');
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${two(minutes)}m`;
  return `${minutes}m ${two(seconds)}s`;
}

// Latencies, which are often below a millisecond: "850 µs", "3.25 ms", "42 ms", then as durations.
export function formatLatency(ms) {
  if (!isNumber(ms) || ms < 0) return kMissing;
  if (ms < 1) return Math.round(ms * 1000) + ' µs';
  if (ms < 10) return ms.toFixed(2) + ' ms';
  return formatDuration(ms);
}

// A ratio 0..1 as a percentage: 0.123 → "12%", 0.004 → "0.4%".
export function formatPercent(ratio) {
  if (!isNumber(ratio)) return kMissing;
  const percent = Math.min(Math.max(ratio, 0), 1) * 100;
  return (percent > 0 && percent < 1 ? percent.toFixed(1) : Math.round(percent).toString()) + '%';
}

function pad(n, width = 2) {
  return String(n).padStart(width, '0');
}

// Wall-clock timestamps in the browser's time zone; -1, 0 and missing mean "not set".
export function formatTimestamp(ms) {
  if (!isNumber(ms) || ms <= 0) return kMissing;
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// Watermarks are event times with milliseconds. Flink reports "no watermark yet" as
// Long.MIN_VALUE; anything outside a plausible epoch range counts as no watermark.
const kLatestPlausibleMs = 8.64e15;  // the largest Date the browser can represent
export function hasWatermark(ms) {
  return isNumber(ms) && ms > 0 && ms < kLatestPlausibleMs;
}

export function formatWatermark(ms) {
  if (!hasWatermark(ms)) return 'no watermark';
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.` +
      pad(d.getMilliseconds(), 3);
}

// Flink's backpressure levels: OK up to 10 % of the time blocked, LOW up to 50 %, HIGH above.
export function backpressureLevel(ratio) {
  if (!isNumber(ratio)) return 'unknown';
  if (ratio <= 0.1) return 'ok';
  if (ratio <= 0.5) return 'low';
  return 'high';
}

// The level the server reports ("backpressure-level", as Flink's REST API does), else the
// level of the reported ratio.
export function backpressureLevelOf(metrics) {
  const reported = metrics?.['backpressure-level'];
  if (reported === 'ok' || reported === 'low' || reported === 'high') return reported;
  return backpressureLevel(metrics?.['backpressure-ratio']);
}
