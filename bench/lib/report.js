'use strict';
// The printed tables and bench/results/latest.json.
const fs = require('node:fs');
const path = require('node:path');
const { fmt } = require('./stats');

const IMPL_LABEL = { builtin: 'built-in', rust: 'rust-cluster', floor: 'C floor' };

function cell(summary) {
  if (!summary) return 'ERR';
  return summary.n > 1 ? `${fmt(summary.median)} (${fmt(summary.min)}-${fmt(summary.max)})` : fmt(summary.median);
}

function ratio(row) {
  const a = row.builtin?.median;
  const b = row.rust?.median;
  if (a == null || b == null || a === 0) return null;
  return b / a;
}

function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Each implementation's median over the floor's median (cases measured beside a floor). */
function floorRatios(row) {
  const f = row.floor?.median;
  const over = (s) => (f && s?.median != null ? s.median / f : null);
  return { builtinToFloor: over(row.builtin), rustToFloor: over(row.rust) };
}

const arrow = (metric) => (metric.better === 'higher' ? ' (^)' : ' (v)');

/** rows: [{ case, metric, impls, builtin, rust, value }] (summaries). */
function format(rows) {
  const hidden = (r) => r.metric.hideIfZero && !r.builtin?.max && !r.rust?.max && !r.floor?.max;
  const withFloor = rows.filter((r) => 'floorUnavailable' in r && !hidden(r));
  const compared = rows.filter((r) => r.impls.length >= 2 && !('floorUnavailable' in r) && !hidden(r));
  const single = rows.filter((r) => r.impls.length === 1);
  const parts = [];
  if (compared.length) {
    parts.push(table(
      ['benchmark', 'metric', 'built-in median (min-max)', 'rust-cluster median (min-max)', 'rust/built-in'],
      compared.map((r) => {
        const q = ratio(r);
        return [r.case, r.metric.label + arrow(r.metric), cell(r.builtin), cell(r.rust), q == null ? '-' : q.toFixed(2)];
      }),
    ));
  }
  if (withFloor.length) {
    const x = (q) => (q == null ? '-' : q.toFixed(2));
    parts.push(table(
      ['beside the C floor', 'metric', 'built-in median (min-max)', 'rust-cluster median (min-max)', 'C floor median (min-max)', 'rust/built-in', 'built-in/floor', 'rust/floor'],
      withFloor.map((r) => {
        const f = floorRatios(r);
        return [r.case, r.metric.label + arrow(r.metric), cell(r.builtin), cell(r.rust), r.floorUnavailable ? 'n/a' : cell(r.floor), x(ratio(r)), x(f.builtinToFloor), x(f.rustToFloor)];
      }),
    ));
    const reasons = [...new Set(withFloor.map((r) => r.floorUnavailable).filter(Boolean))];
    for (const reason of reasons) parts.push(`C floor unavailable: ${reason}`);
  }
  if (single.length) {
    parts.push(table(
      ['limit (no cluster involved)', 'metric', 'median (min-max)'],
      single.map((r) => [r.case, r.metric.label + arrow(r.metric), cell(r.value)]),
    ));
  }
  return parts.join('\n\n');
}

function writeJson(file, data) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}

module.exports = { format, writeJson, IMPL_LABEL, ratio, floorRatios };
