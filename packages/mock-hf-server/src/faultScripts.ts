/*
 * Scripted faults of the mock Hub, and the request matching they share
 * with the request log.
 */
import { FaultMatch, MockFault, ScriptHandle, ScriptSpec } from './hubTypes';

export function scriptMatches(
  match: FaultMatch,
  method: string,
  path: string,
  search: string,
): boolean {
  if (match.method && match.method.toUpperCase() !== method) {
    return false;
  }
  const p = match.path;
  if (p === undefined) {
    return true;
  }
  if (p instanceof RegExp) {
    p.lastIndex = 0;
    return p.test(path + search);
  }
  const wanted = p.startsWith('/') ? p : `/${p}`;
  if (!wanted.includes('*')) {
    return wanted === path;
  }
  const re = new RegExp(
    `^${wanted
      .split('*')
      .map(s => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(path);
}

export interface ScriptState {
  id: number;
  spec: ScriptSpec;
  hits: number;
  remaining: number;
}

/** The fault scripts of a hub, tried in order. */
export class FaultScripts {
  private scripts: ScriptState[] = [];
  private nextScriptId = 1;

  /** Scripts a fault for matching requests. */
  add(spec: ScriptSpec): ScriptHandle {
    const state: ScriptState = {
      id: this.nextScriptId++,
      spec,
      hits: 0,
      remaining: spec.times ?? Infinity,
    };
    this.scripts.push(state);
    const remove = () => {
      this.scripts = this.scripts.filter(s => s !== state);
    };
    return {
      id: state.id,
      get hits() {
        return state.hits;
      },
      get remaining() {
        return state.remaining;
      },
      remove,
    };
  }

  /** Removes all scripted faults. */
  clear() {
    this.scripts = [];
  }

  /** Finds and consumes the fault for a request, if any. */
  take(method: string, path: string, search: string): MockFault | undefined {
    for (const s of this.scripts) {
      if (
        s.remaining > 0 &&
        scriptMatches(s.spec.match, method, path, search)
      ) {
        s.remaining--;
        s.hits++;
        return s.spec.fault;
      }
    }
    return undefined;
  }
}
