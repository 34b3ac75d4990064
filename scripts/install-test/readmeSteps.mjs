// Reads the install steps of a package README and applies them to an app.
//
// A step is a fenced code block preceded by a marker comment:
//
//   <!-- install-test: run -->                        shell commands, run in the app root
//   <!-- install-test: file=PATH after-imports -->    insert after the last import statement
//   <!-- install-test: file=PATH before="TEXT" -->    insert before the first line containing TEXT
//   <!-- install-test: file=PATH after="TEXT" -->     insert after the first line containing TEXT
//       ... from="TEXT2"                              (search starts at the line containing TEXT2)
//   <!-- install-test: file=PATH merge -->            YAML: deep-merge into the file (lists are appended)
//   app=new | app=legacy                              only for that frontend system
//
// The block's lines are added exactly as written; nothing else is changed.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

const MARKER = /^<!--\s*install-test:\s*(.*?)\s*-->\s*$/;

function parseAttributes(text) {
  const attrs = {};
  const re = /([a-z-]+)(?:=("([^"]*)"|'([^']*)'|(\S+)))?/g;
  let m;
  while ((m = re.exec(text))) {
    attrs[m[1]] = m[3] ?? m[4] ?? m[5] ?? true;
  }
  return attrs;
}

/** The install steps of a README, in order. */
export function readInstallSteps(readmePath) {
  const lines = readFileSync(readmePath, 'utf8').split('\n');
  const steps = [];
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i]);
    if (!m) {
      continue;
    }
    let j = i + 1;
    while (j < lines.length && lines[j].trim() === '') {
      j++;
    }
    const fence = /^(```+)\s*(\S*)\s*$/.exec(lines[j] ?? '');
    if (!fence) {
      throw new Error(
        `${readmePath}:${
          i + 1
        }: an install-test marker must be followed by a fenced code block`,
      );
    }
    const body = [];
    let k = j + 1;
    while (k < lines.length && lines[k] !== fence[1]) {
      body.push(lines[k]);
      k++;
    }
    if (k >= lines.length) {
      throw new Error(`${readmePath}:${j + 1}: unterminated code block`);
    }
    const attrs = parseAttributes(m[1]);
    steps.push({
      readme: readmePath,
      line: i + 1,
      attrs,
      lang: fence[2],
      text: body.join('\n'),
    });
    i = k;
  }
  return steps;
}

function findLine(lines, text, from = 0, what) {
  for (let i = from; i < lines.length; i++) {
    if (lines[i].includes(text)) {
      return i;
    }
  }
  throw new Error(`${what}: no line containing ${JSON.stringify(text)}`);
}

function lastImportEnd(lines, what) {
  let last = -1;
  for (let i = 0; i < lines.length; i++) {
    if (/^import\s/.test(lines[i])) {
      let end = i;
      while (end < lines.length && !/;\s*$/.test(lines[end])) {
        end++;
      }
      last = end;
      i = end;
    }
  }
  if (last < 0) {
    throw new Error(`${what}: no import statement`);
  }
  return last;
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Deep-merges `value` into the YAML document at `at`, keeping its comments. */
function mergeInto(doc, at, value) {
  const existing = at.length ? doc.getIn(at, true) : doc.contents;
  if (isPlainObject(value) && YAML.isMap(existing)) {
    for (const [key, v] of Object.entries(value)) {
      mergeInto(doc, [...at, key], v);
    }
  } else if (Array.isArray(value) && YAML.isSeq(existing)) {
    for (const item of value) {
      doc.addIn(at, doc.createNode(item));
    }
  } else {
    doc.setIn(at, doc.createNode(value));
  }
}

/**
 * Applies one step to the app. `run(command)` runs a shell command in the
 * app root and rejects when it fails.
 */
export async function applyStep(step, appDir, run) {
  const where = `${path.relative(process.cwd(), step.readme)}:${step.line}`;
  const { attrs } = step;
  if (attrs.run) {
    for (const raw of step.text.split('\n')) {
      const command = raw.trim();
      if (command && !command.startsWith('#')) {
        await run(command, where);
      }
    }
    return;
  }
  if (typeof attrs.file !== 'string') {
    throw new Error(`${where}: a step needs run or file=PATH`);
  }
  const file = path.join(appDir, attrs.file);
  const original = readFileSync(file, 'utf8');
  const what = `${where} (${attrs.file})`;
  if (attrs.merge) {
    const doc = YAML.parseDocument(original);
    mergeInto(doc, [], YAML.parse(step.text) ?? {});
    writeFileSync(
      file,
      doc.toString({ flowCollectionPadding: false, lineWidth: 0 }),
    );
    return;
  }
  const lines = original.split('\n');
  const block = step.text.split('\n');
  let at;
  if (attrs['after-imports']) {
    at = lastImportEnd(lines, what) + 1;
  } else if (typeof attrs.before === 'string') {
    const from =
      typeof attrs.from === 'string' ? findLine(lines, attrs.from, 0, what) : 0;
    at = findLine(lines, attrs.before, from, what);
  } else if (typeof attrs.after === 'string') {
    const from =
      typeof attrs.from === 'string' ? findLine(lines, attrs.from, 0, what) : 0;
    at = findLine(lines, attrs.after, from, what) + 1;
  } else {
    throw new Error(
      `${what}: say where: after-imports, before=, after= or merge`,
    );
  }
  lines.splice(at, 0, ...block);
  writeFileSync(file, lines.join('\n'));
}

/** Whether a step applies to an app on the given frontend system. */
export function stepApplies(step, system) {
  return !step.attrs.app || step.attrs.app === system;
}
