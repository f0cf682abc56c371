import { h } from './dom.js';
export function showLab(root: HTMLElement): Promise<() => void> {
  root.replaceChildren(h('p', {}, 'lab: coming'));
  return Promise.resolve(() => undefined);
}
