import type { ComplianceReport, ControlReport, EvidenceItem } from '../../application/compliance-report.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (value: unknown) => String(value ?? '').replace(/[&<>"']/gu, (c) => ESCAPES[c]!);

function table(rows: Array<Record<string, string | number | null>>): string {
  if (rows.length === 0) return '<p class="none">none</p>';
  const columns = Object.keys(rows[0]!);
  return `<table><thead><tr>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${columns.map((c) => `<td>${esc(r[c])}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function evidence(item: EvidenceItem): string {
  return `<div class="evidence"><div class="figure"><span class="label">${esc(item.label)}</span><span class="value">${esc(item.value)}</span></div>${item.rows ? table(item.rows) : ''}</div>`;
}

function control(c: ControlReport): string {
  const findings = c.findings.length > 0 ? `<ul class="findings">${c.findings.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>` : '';
  return `<section class="control ${c.status}">
  <h2><span class="id">${esc(c.id)}</span> ${esc(c.name)} <span class="status">${c.status === 'evidence' ? 'evidence in the log' : 'needs attention'}</span></h2>
  <p class="requirement">${esc(c.requirement)}</p>
  ${findings}
  ${c.evidence.map(evidence).join('\n  ')}
</section>`;
}

/** The report as one self-contained page (no scripts, no outside resources), for a browser or for printing to PDF. */
export function renderComplianceHtml(report: ComplianceReport): string {
  const chain = report.chain;
  const verdict = chain.intact ? `intact: ${chain.entriesVerified} entries verified from the start of the period to the head` : `BROKEN at entry ${chain.problem?.seq}: ${chain.problem?.reason}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(report.title)}: ${esc(report.tenantId)}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1c2430; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
  h1 { font-size: 1.5rem; margin-bottom: .25rem; }
  .meta { color: #4a5568; margin: 0 0 1.5rem; }
  dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0 0 1.5rem; }
  dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; font-family: ui-monospace, monospace; word-break: break-all; }
  .verdict { padding: .6rem .9rem; border-radius: 6px; margin-bottom: 1.5rem; font-weight: 600; }
  .verdict.ok { background: #e6f4ea; color: #1e5631; } .verdict.bad { background: #fdecea; color: #8a1c12; }
  section.control { border: 1px solid #d5dbe3; border-left-width: 6px; border-radius: 6px; padding: .75rem 1rem; margin: 0 0 1rem; break-inside: avoid; }
  section.control.evidence { border-left-color: #2f855a; } section.control.attention { border-left-color: #c05621; }
  h2 { font-size: 1.1rem; margin: 0 0 .25rem; } h2 .id { font-family: ui-monospace, monospace; color: #2b4c7e; }
  h2 .status { float: right; font-size: .8rem; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
  .evidence h2 .status, section.evidence h2 .status { color: #2f855a; } section.attention h2 .status { color: #c05621; }
  .requirement { color: #4a5568; margin: 0 0 .5rem; font-style: italic; }
  ul.findings { background: #fff7ed; border-radius: 4px; padding: .5rem 1rem .5rem 2rem; margin: .5rem 0; }
  .evidence { margin: .5rem 0; } .figure { display: flex; justify-content: space-between; gap: 1rem; border-bottom: 1px dotted #cbd2dc; }
  .figure .value { font-weight: 600; font-family: ui-monospace, monospace; text-align: right; }
  table { border-collapse: collapse; width: 100%; margin: .35rem 0 .5rem; font-size: 12px; }
  th, td { border: 1px solid #e2e8f0; padding: .2rem .45rem; text-align: left; } th { background: #f4f6f9; }
  .none { color: #718096; margin: .2rem 0; font-size: 12px; }
  footer { margin-top: 2rem; color: #4a5568; font-size: 12px; }
  footer code { word-break: break-all; }
  @media print { body { margin: 0; max-width: none; } section.control { page-break-inside: avoid; } }
</style>
</head>
<body>
<h1>${esc(report.title)}</h1>
<p class="meta">Tenant <strong>${esc(report.tenantId)}</strong>, ${esc(report.period.from)} to ${esc(report.period.to)} (end exclusive). Generated ${esc(report.generatedAt)} by ${esc(report.generatedBy)}.</p>
<div class="verdict ${chain.intact ? 'ok' : 'bad'}">Audit chain ${esc(verdict)}</div>
<dl class="facts">
  <dt>Entries in the period</dt><dd>${esc(report.summary.entries)}</dd>
  <dt>By status</dt><dd>${esc(Object.entries(report.summary.byStatus).map(([k, v]) => `${k} ${v}`).join(', ') || 'none')}</dd>
  <dt>Chain head</dt><dd>${chain.head ? `#${esc(chain.head.seq)} ${esc(chain.head.hash)}` : 'no entries'}</dd>
  <dt>Signed checkpoint</dt><dd>${chain.checkpoint ? `#${esc(chain.checkpoint.seq)} ${esc(chain.checkpoint.hash)} at ${esc(chain.checkpoint.at)}, key ${esc(chain.checkpoint.keyId)}` : 'none yet'}</dd>
  <dt>Signatures checked against</dt><dd>${chain.signaturesTrusted ? 'keys given by the verifier' : 'the keys the database lists (run agentmesh audit verify --public-key to check against a key you hold)'}</dd>
</dl>
${report.controls.map(control).join('\n')}
<footer>
  <p>Content hash (SHA-256 of the report's RFC 8785 JSON without this field, tagged <code>agentmesh/compliance-report/v1</code>): <code>${esc(report.contentHash)}</code></p>
  <p>The JSON form of this report (<code>format=json</code>) carries the same content and hash.</p>
</footer>
</body>
</html>
`;
}
