// Formatting of numbers, times and hashes for display.

/** 0.97312 -> "0.973"; 0.99999 -> "> 0.999" and 0.00001 -> "< 0.001" (never a certain-looking 1.000 or 0.000). */
export function formatProbability(p) {
  if (!Number.isFinite(p)) return '—';
  if (p >= 0.9995 && p < 1) return '> 0.999';
  if (p > 0 && p < 0.0005) return '< 0.001';
  return p.toFixed(3);
}

/** 0.97312 -> "97.3 %" */
export function formatPercent(p) {
  return Number.isFinite(p) ? `${(p * 100).toFixed(1)} %` : '—';
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** ISO-8601 UTC -> local date and time, e.g. "26 Nov 2026, 16:02:11". */
export function formatDateTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso ?? '—') : dateTime.format(d);
}

const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

/** ISO-8601 UTC -> [local date, local time], for narrow table cells. */
export function formatDateAndTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? [String(iso ?? '—'), ''] : [dateOnly.format(d), timeOnly.format(d)];
}

/** Milliseconds with a sensible number of digits. */
export function formatMs(ms) {
  if (!Number.isFinite(ms)) return '—';
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

/** "9f2c1a7b…e41d" from a 64-hex SHA-256. */
export function abbreviateHash(hex) {
  if (typeof hex !== 'string' || hex.length <= 16) return hex ?? '—';
  return `${hex.slice(0, 10)}…${hex.slice(-6)}`;
}

/** A number from a model card: fractions with 4 digits, integers as they are. */
export function formatMetric(value) {
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en');
  return Math.abs(value) < 10 ? value.toFixed(4) : value.toFixed(2);
}

/** "train_images" -> "Train images" */
export function humanizeKey(key) {
  const s = String(key).replace(/[_-]+/g, ' ').trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}
