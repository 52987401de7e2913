// The small DOM helpers the views share: element lookup, status lines, hint paragraphs,
// tables with row headers, action buttons and the confirmation dialogs (a <dialog> whose form
// has method="dialog" and whose confirming button has value="ok"). Text only: nothing here
// parses HTML.
export const $ = (id) => document.getElementById(id);

// Puts `text` in the status line `id` (a role="status" element).
export function say(id, text) {
  $(id).textContent = text;
}

// A hint paragraph (an empty state: "no databases", "no backups yet").
export function para(text) {
  const p = document.createElement('p');
  p.className = 'hint empty';
  p.textContent = text;
  return p;
}

// A row whose first cell is its header; a cell is text or a Node; `data` its data-* attributes.
export function row(cells, data = {}) {
  const tr = document.createElement('tr');
  Object.assign(tr.dataset, data);
  cells.forEach((v, i) => {
    const c = document.createElement(i === 0 ? 'th' : 'td');
    if (i === 0) c.scope = 'row';
    if (v instanceof Node) c.append(v);
    else c.textContent = v;
    tr.append(c);
  });
  return tr;
}

// A captioned table; `rows`: <tr> elements or arrays of cells (as row() takes them).
export function table(caption, heads, rows) {
  const t = document.createElement('table');
  const c = document.createElement('caption');
  c.textContent = caption;
  const hr = document.createElement('tr');
  for (const h of heads) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    hr.append(th);
  }
  const thead = document.createElement('thead');
  thead.append(hr);
  const tbody = document.createElement('tbody');
  tbody.append(...rows.map((r) => (Array.isArray(r) ? row(r) : r)));
  t.append(c, thead, tbody);
  return t;
}

// A button of a table row; `aria` names what it acts on ("Verify backup 3").
export function button(label, aria, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'act';
  b.textContent = label;
  b.setAttribute('aria-label', aria);
  b.addEventListener('click', onClick);
  return b;
}

// Opens the dialog `ids.dialog` with its title, text and confirming button's label
// (ids.title, ids.text, ids.ok); shows or hides each field group of `groups` (id → shown) and
// empties the fields of `clear`. Resolves with read() when confirmed, null when cancelled
// (the Cancel button or Escape).
export function confirmDialog(ids, { title, text, ok, groups = {}, clear = [] }, read) {
  const dialog = $(ids.dialog);
  $(ids.title).textContent = title;
  $(ids.text).textContent = text;
  $(ids.ok).textContent = ok;
  for (const [id, shown] of Object.entries(groups)) $(id).hidden = !shown;
  for (const id of clear) $(id).value = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok' ? read() : null), {
      once: true,
    });
    dialog.returnValue = '';
    dialog.showModal();
  });
}
