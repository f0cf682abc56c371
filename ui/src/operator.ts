import { h } from './dom.js';
export function showOperator(root: HTMLElement): Promise<() => void> {
  root.replaceChildren(h('p', {}, 'operator: coming'));
  return Promise.resolve(() => undefined);
}
