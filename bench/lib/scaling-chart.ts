import type { ScalingPoint } from '../scaling';

/**
 * bench/results/scaling.svg, written by hand: left, req/s per worker count against the ideal
 * (linear from 1 worker); right, CPU seconds per 10,000 requests by part. The same chart per host
 * count for `--hosts` (scaling-hosts.svg), with points that carry `hosts` instead of `workers`.
 */
export type ChartPoint = Pick<ScalingPoint, 'requestsPerSecond' | 'cpuSecondsPer10kRequests'> & ({ workers: number } | { hosts: number });
const count = (p: ChartPoint) => ('hosts' in p ? p.hosts : p.workers);
const WIDTH = 800;
const HEIGHT = 380;
const PANEL = { top: 80, bottom: 310, width: 310 };
const COLOURS = { measured: '#3b6fb6', ideal: '#999999', roombook: '#3b6fb6', postgres: '#d9822b', loadGenerator: '#6aa84f' };

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round axis maximum above `value`: 1, 2 or 5 times a power of ten. */
function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value)!;
}

function axis(left: number, max: number, format: (value: number) => string): string[] {
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const value = (max * i) / 4;
    const y = PANEL.bottom - ((PANEL.bottom - PANEL.top) * i) / 4;
    parts.push(`<line x1="${left}" y1="${y}" x2="${left + PANEL.width}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${y + 4}" text-anchor="end">${format(value)}</text>`);
  }
  return parts;
}

const scale = (value: number, max: number) => PANEL.bottom - ((PANEL.bottom - PANEL.top) * value) / max;
const thousands = (value: number) => (value >= 1000 ? `${Math.round(value / 100) / 10}k` : String(Math.round(value)));

export function scalingSvg(points: ChartPoint[], subtitle: string, noun: 'workers' | 'hosts' = 'workers'): string {
  const parts: string[] = [];
  const one = noun === 'hosts' ? '1 host' : '1 worker';
  const slot = PANEL.width / points.length;
  const ideal = points.map((p) => count(p) * points[0].requestsPerSecond);

  // Left: throughput.
  const left1 = 70;
  const max1 = niceMax(Math.max(...points.map((p) => p.requestsPerSecond), ...ideal));
  parts.push(...axis(left1, max1, thousands), `<text x="${left1}" y="${PANEL.top - 20}" font-weight="bold">Fresh bookings: req/s by ${noun}</text>`);
  points.forEach((p, i) => {
    const x = left1 + i * slot + slot * 0.2;
    const y = scale(p.requestsPerSecond, max1);
    parts.push(`<rect x="${x}" y="${y}" width="${slot * 0.6}" height="${PANEL.bottom - y}" fill="${COLOURS.measured}"/>`,
      `<text x="${x + slot * 0.3}" y="${y - 4}" text-anchor="middle">${thousands(p.requestsPerSecond)}</text>`,
      `<text x="${x + slot * 0.3}" y="${PANEL.bottom + 16}" text-anchor="middle">${count(p)}</text>`);
  });
  const idealPath = ideal.map((value, i) => `${i ? 'L' : 'M'}${left1 + i * slot + slot / 2},${scale(value, max1)}`).join(' ');
  parts.push(`<path d="${idealPath}" fill="none" stroke="${COLOURS.ideal}" stroke-dasharray="5,4" stroke-width="2"/>`,
    `<text x="${left1 + PANEL.width / 2}" y="${PANEL.bottom + 34}" text-anchor="middle">${noun} (dashed: linear from ${one})</text>`);

  // Right: CPU seconds per 10,000 requests, by part.
  const left2 = 460;
  const parts2 = ['roombook', 'postgres', 'loadGenerator'] as const;
  const per10k = (p: ChartPoint, key: (typeof parts2)[number]) => p.cpuSecondsPer10kRequests[key];
  const max2 = niceMax(Math.max(...points.flatMap((p) => parts2.map((key) => per10k(p, key)))));
  parts.push(...axis(left2, max2, (v) => String(Number(v.toFixed(3)))), `<text x="${left2}" y="${PANEL.top - 20}" font-weight="bold">CPU seconds per 10,000 requests</text>`);
  points.forEach((p, i) => {
    const bar = (slot * 0.8) / parts2.length;
    parts2.forEach((key, k) => {
      const x = left2 + i * slot + slot * 0.1 + k * bar;
      const y = scale(per10k(p, key), max2);
      parts.push(`<rect x="${x}" y="${y}" width="${bar - 2}" height="${PANEL.bottom - y}" fill="${COLOURS[key]}"/>`);
    });
    parts.push(`<text x="${left2 + i * slot + slot / 2}" y="${PANEL.bottom + 16}" text-anchor="middle">${count(p)}</text>`);
  });
  const legend = [['roombook', 'roombook', 0], ['postgres', 'PostgreSQL', 85], ['loadGenerator', 'load generator', 180]] as const;
  legend.forEach(([key, label, offset]) => {
    const x = left2 + offset;
    parts.push(`<rect x="${x}" y="${PANEL.bottom + 26}" width="10" height="10" fill="${COLOURS[key]}"/>`,
      `<text x="${x + 14}" y="${PANEL.bottom + 35}">${label}</text>`);
  });

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">roombook scaling${noun === 'hosts' ? ' over hosts' : ''}</text>`,
    `<text x="${WIDTH / 2}" y="33" text-anchor="middle" fill="#555">${escape(subtitle)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
