/** The one-line summary of a probe report. */

import type { ProbeReport } from './types.js';

/**
 * `all 4 checks passed: a, b, c, d`, or
 * `1 of 4 checks failed: quota: <detail>`.
 */
export function probeSummary(report: ProbeReport): string {
  const { checks } = report;
  if (checks.length === 0) {
    return report.ok ? 'ok (the module ran no checks)' : 'failed (the module ran no checks)';
  }
  const failed = checks.filter((check) => !check.ok);
  if (failed.length === 0) {
    return `all ${checks.length} checks passed: ${checks.map((check) => check.name).join(', ')}`;
  }
  const reasons = failed.map((check) => `${check.name}: ${oneLine(check.detail)}`).join('; ');
  return `${failed.length} of ${checks.length} checks failed: ${reasons}`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
