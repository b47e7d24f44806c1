import crypto from 'node:crypto';

/**
 * GET /docs: a page that renders /openapi.json with a few lines of inline script, so it works
 * offline and behind firewalls (no CDN). Text goes in through textContent only, and the
 * Content-Security-Policy allows exactly this script and style (by hash) and fetches to us.
 */
const style = `body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
details{border:1px solid #ddd;border-radius:6px;margin:.4rem 0;padding:.3rem .6rem}summary{cursor:pointer}
.m{display:inline-block;width:4.5rem;font-weight:600;font-family:monospace}.get{color:#075}.post{color:#05a}
.patch{color:#a60}.delete{color:#b22}pre{background:#f6f6f6;padding:.5rem;overflow:auto;font-size:13px}
td{border-top:1px solid #eee;padding:.2rem .5rem;vertical-align:top}h4{margin:.6rem 0 .2rem}`;

const script = `const el = (tag, text, cls) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
};
const main = document.querySelector('main');
const schemaBlock = (schema) => el('pre', JSON.stringify(schema, null, 2));
fetch('openapi.json').then((response) => response.json()).then((doc) => {
  document.title = doc.info.title + ' ' + doc.info.version;
  main.append(el('h1', document.title), el('p', doc.info.description));
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const details = el('details');
      const summary = el('summary');
      summary.append(el('span', method.toUpperCase(), 'm ' + method), el('code', path), el('span', '  ' + (op.summary || '')));
      details.append(summary);
      if (op.description) details.append(el('p', op.description));
      if (op.security) details.append(el('p', 'Credentials: ' + op.security.map((s) => Object.keys(s).join(' + ')).join(' or ')));
      if (op.parameters && op.parameters.length) {
        const table = el('table');
        for (const p of op.parameters) {
          const row = el('tr');
          row.append(el('td', p.name), el('td', p.in), el('td', p.description || ''), el('td', JSON.stringify(p.schema)));
          table.append(row);
        }
        details.append(el('h4', 'Parameters'), table);
      }
      if (op.requestBody) details.append(el('h4', 'Body'), schemaBlock(op.requestBody.content['application/json'].schema));
      details.append(el('h4', 'Answers'));
      for (const [status, answer] of Object.entries(op.responses)) {
        details.append(el('p', status + ': ' + answer.description));
        const content = answer.content && Object.values(answer.content)[0];
        if (content) details.append(schemaBlock(content.schema));
      }
      main.append(details);
    }
  }
}).catch((error) => main.append(el('p', 'Cannot load openapi.json: ' + error)));`;

const sha256 = (text: string): string => `'sha256-${crypto.createHash('sha256').update(text).digest('base64')}'`;

export const docsPage = {
  html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>roombook API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${style}</style></head>
<body><main></main><script>${script}</script></body></html>`,
  contentSecurityPolicy: `default-src 'none'; connect-src 'self'; style-src ${sha256(style)}; script-src ${sha256(script)}`,
};
