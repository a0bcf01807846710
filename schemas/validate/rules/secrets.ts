// Definitions live in git, so they must never hold a credential: private key blocks, known
// token formats, and literal values under credential-like keys are errors that ask for a
// `{ secret: NAME }` reference instead. The finding never repeats the value.
import type { PathSegment } from '../../loader/parse-yaml.js';
import type { Rule } from '../context.js';

const KEY_NAMES = /(^|[-_.])(password|passwd|passphrase|pwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|client[-_]?secret|credentials?|kubeconfig|auth)$/i;
const CAMEL_KEYS = /(Password|Passphrase|Secret|Token|ApiKey|AccessKey|PrivateKey)$/;
const PATTERNS: [RegExp, string][] = [
  [/-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----/, 'a private key block'],
  [/LS0tLS1CRUdJTi[A-Za-z0-9+/=]{20,}/, 'a base64-encoded key or certificate block'],
  [/\bgh[pousr]_[A-Za-z0-9]{36,}\b/, 'a GitHub token'],
  [/\bgithub_pat_[A-Za-z0-9_]{40,}\b/, 'a GitHub token'],
  [/\bAKIA[0-9A-Z]{16}\b/, 'an AWS access key id'],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}\b/, 'a Slack token'],
  [/\bglpat-[A-Za-z0-9_-]{20,}\b/, 'a GitLab token'],
  [/\bsk_live_[A-Za-z0-9]{20,}\b/, 'a Stripe secret key'],
  [/\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/, 'a JSON web token'],
  [/(--password[= ]|\bPASSWORD=)[^\s$'"{}]{4,}/i, 'a password written in a command'],
  [/:\/\/[^\s/:@]+:[^\s/@$]{3,}@/, 'a password written in a URL'],
  [/hooks\.slack\.com\/services\/[A-Za-z0-9]+\/[A-Za-z0-9]+\/[A-Za-z0-9]+/, 'a Slack webhook URL'],
  [/discord(app)?\.com\/api\/webhooks\/\d+\/[A-Za-z0-9_-]{20,}/, 'a Discord webhook URL'],
];

/** What secret-looking thing `text` holds under `key`, or undefined. Exported for tests. */
export function secretLike(key: string | number | undefined, text: string): string | undefined {
  // One combined (looser, case-blind) test first: nearly every string matches no pattern at all.
  const found = ANY_PATTERN.test(text) ? patternMatch(text) : undefined;
  if (found) return found;
  if (typeof key === 'string' && (KEY_NAMES.test(key) || CAMEL_KEYS.test(key)) && !looksLikeReference(text)) {
    return `a literal value under \`${key}\``;
  }
  return undefined;
}

const ANY_PATTERN = new RegExp(PATTERNS.map(([p]) => `(?:${p.source})`).join('|'), 'i');

function patternMatch(text: string): string | undefined {
  for (const [pattern, what] of PATTERNS) {
    if (!pattern.test(text)) continue;
    if (what === 'a base64-encoded key or certificate block' && !decodesToPrivateKey(text)) continue;
    return what;
  }
  return undefined;
}

/**
 * Under a credential-like key, some values name a credential rather than hold it: empty, a
 * template, an environment variable, a file path, or a kebab-case name (a Kubernetes Secret).
 */
function looksLikeReference(text: string): boolean {
  const t = text.trim();
  return t === '' || t.includes('${{') || /^\$\{?[A-Za-z_]/.test(t) || /^(\/|\.\/|~\/)/.test(t) || /^[a-z][a-z0-9]*(-[a-z0-9]+)+$/.test(t);
}

function decodesToPrivateKey(text: string): boolean {
  const match = /LS0tLS1CRUdJTi[A-Za-z0-9+/=]+/.exec(text);
  return match ? Buffer.from(match[0], 'base64').toString('latin1').includes('PRIVATE KEY') : false;
}

export const noSecretLiterals: Rule = (ctx) => {
  for (const def of ctx.all) {
    if (!ctx.checks(def)) continue;
    const path: PathSegment[] = [];
    // A node shared through a YAML alias is checked once: the walk stays linear in the text.
    const seen = new WeakSet<object>();
    const visit = (value: unknown, key: string | number | undefined) => {
      if (typeof value === 'string') {
        const what = secretLike(key, value);
        if (what) {
          ctx.report(def, [...path], 'secret-literal', `this looks like ${what}; definitions are stored in git and in the database, so put the value in the secret store and write \`{ secret: NAME }\` instead`);
        }
        return;
      }
      if (value === null || typeof value !== 'object' || seen.has(value) || isSecretRef(value)) return;
      seen.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          path.push(i);
          visit(value[i], key);
          path.pop();
        }
        return;
      }
      for (const k of Object.keys(value)) {
        path.push(k);
        visit((value as Record<string, unknown>)[k], k);
        path.pop();
      }
    };
    visit(def.value, undefined);
  }
};

function isSecretRef(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 1 && typeof (value as { secret?: unknown }).secret === 'string';
}
