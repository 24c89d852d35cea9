'use strict';
// Small statistics and formatting helpers.

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** { n, median, min, max, samples } of the finite numbers in `samples` (null if none). */
function summarize(samples) {
  const ok = samples.filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (ok.length === 0) return null;
  return { n: ok.length, median: median(ok), min: Math.min(...ok), max: Math.max(...ok), samples };
}

/** A number with about 3 significant digits, thousands grouped. */
function fmt(value) {
  if (value == null || !Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return '0';
  return value.toPrecision(2);
}

module.exports = { median, summarize, fmt };
