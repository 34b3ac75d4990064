/*
 * Model card (README.md) rendering with YAML front matter.
 */

function yamlScalar(value: unknown): string {
  if (value === null || value === undefined) {
    return 'null';
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    return String(value);
  }
  const s = String(value);
  if (
    s === '' ||
    /^[\s-?:,[\]{}#&*!|>'"%@`]/.test(s) ||
    /[:#]\s|\s$|:$/.test(s) ||
    /^(true|false|null|yes|no|on|off|~|[-+]?[\d.]+(e[-+]?\d+)?)$/i.test(s) ||
    s.includes('\n')
  ) {
    return JSON.stringify(s);
  }
  return s;
}

function yamlLines(value: unknown, indent: string): string[] {
  const lines: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item !== null && typeof item === 'object') {
        const inner = yamlLines(item, `${indent}  `);
        lines.push(`${indent}- ${inner[0].trimStart()}`, ...inner.slice(1));
      } else {
        lines.push(`${indent}- ${yamlScalar(item)}`);
      }
    }
    return lines;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) {
        continue;
      }
      if (Array.isArray(v) && v.length === 0) {
        lines.push(`${indent}${key}: []`);
      } else if (
        v !== null &&
        typeof v === 'object' &&
        Object.keys(v).length > 0
      ) {
        lines.push(`${indent}${key}:`, ...yamlLines(v, `${indent}  `));
      } else if (v !== null && typeof v === 'object') {
        lines.push(`${indent}${key}: {}`);
      } else {
        lines.push(`${indent}${key}: ${yamlScalar(v)}`);
      }
    }
    return lines;
  }
  return [`${indent}${yamlScalar(value)}`];
}

/** Serializes plain JSON-like data as block-style YAML. */
export function toYaml(value: Record<string, unknown>): string {
  return `${yamlLines(value, '').join('\n')}\n`;
}

/** Renders a README.md with `cardData` as YAML front matter. */
export function renderModelCard(
  repoId: string,
  cardData: Record<string, unknown> | undefined,
  body?: string,
): string {
  const text =
    body ??
    `# ${repoId
      .split('/')
      .pop()}\n\nThis is a mock model repository served by the Model Hub mock Hugging Face server.\n`;
  if (!cardData || Object.keys(cardData).length === 0) {
    return text;
  }
  return `---\n${toYaml(cardData)}---\n\n${text}`;
}
