/**
 * The pipeline graph: nodes and datasets of the plan, drawn as SVG in layers from the
 * notebook's inputs down to its results. Nothing is fetched: the drawing is made here.
 */
import { IPlan } from './api';

const SVG = 'http://www.w3.org/2000/svg';
const ROW = 64;
const GAP = 14;
const HEIGHT = 26;
const CHAR = 6.6;
const PAD = 10;

interface IBox {
  id: string;
  label: string;
  kind: 'node' | 'dataset' | 'parameter';
  role?: string;
  rank: number;
  x: number;
  y: number;
  width: number;
}

function element<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: { [name: string]: string | number }
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, String(value));
  }
  return node;
}

/**
 * Ranks: a node sits one row below the datasets it reads, its outputs one row below it; a
 * dataset nothing produces (an input, a parameter) sits right above its first reader.
 */
function layers(plan: IPlan): { boxes: IBox[]; edges: [string, string][] } {
  const boxes = new Map<string, IBox>();
  const edges: [string, string][] = [];
  const roles = new Map((plan.datasets ?? []).map(d => [d.name, d.role]));
  const produced = new Map<string, number>(); // dataset -> its row
  const box = (id: string, label: string, kind: IBox['kind'], rank: number, role?: string) => {
    boxes.set(id, { id, label, kind, role, rank, x: 0, y: 0, width: label.length * CHAR + 2 * PAD });
  };
  for (const node of plan.nodes ?? []) {
    // Nodes come in notebook order, which is an order Kedro can run them in.
    const inputs = [...node.inputs, ...node.parameters].map(p => p.dataset);
    const rank = 1 + Math.max(0, ...inputs.map(name => produced.get(name) ?? 0));
    box(`n:${node.name}`, node.name, 'node', rank);
    for (const name of inputs) {
      edges.push([`d:${name}`, `n:${node.name}`]);
      if (!produced.has(name) && !boxes.has(`d:${name}`)) {
        const role = roles.get(name);
        const label = name.startsWith('params:') ? name.slice(name.lastIndexOf('.') + 1) : name;
        box(`d:${name}`, label, role === 'parameter' ? 'parameter' : 'dataset', rank - 1, role);
      }
    }
    for (const output of node.outputs) {
      produced.set(output.dataset, rank + 1);
      box(`d:${output.dataset}`, output.dataset, 'dataset', rank + 1, roles.get(output.dataset));
      edges.push([`n:${node.name}`, `d:${output.dataset}`]);
    }
  }
  return { boxes: [...boxes.values()], edges };
}

/**
 * Draw the plan's graph; `onNode` is called with a node's name when it is clicked.
 */
export function drawGraph(
  plan: IPlan,
  options: { active: string | null; onNode: (name: string) => void }
): SVGSVGElement {
  const { boxes, edges } = layers(plan);
  const rows = new Map<number, IBox[]>();
  for (const box of boxes) {
    rows.set(box.rank, [...(rows.get(box.rank) ?? []), box]);
  }
  const widths = [...rows.values()].map(
    row => row.reduce((sum, b) => sum + b.width, 0) + GAP * (row.length - 1)
  );
  const width = Math.max(200, ...widths) + 2 * PAD;
  const ranks = [...rows.keys()].sort((a, b) => a - b);
  ranks.forEach((rank, index) => {
    const row = rows.get(rank)!;
    const used = row.reduce((sum, b) => sum + b.width, 0) + GAP * (row.length - 1);
    let x = (width - used) / 2;
    for (const box of row) {
      box.x = x;
      box.y = PAD + index * ROW;
      x += box.width + GAP;
    }
  });
  const height = PAD * 2 + Math.max(0, ranks.length - 1) * ROW + HEIGHT;
  const svg = element('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: 'lab2prod-graph',
    role: 'img',
    'aria-label': `Pipeline ${plan.pipeline}: ${plan.nodes?.length ?? 0} nodes`
  });
  const byId = new Map(boxes.map(b => [b.id, b]));
  for (const [from, to] of edges) {
    const a = byId.get(from)!;
    const b = byId.get(to)!;
    const x1 = a.x + a.width / 2;
    const y1 = a.y + HEIGHT;
    const x2 = b.x + b.width / 2;
    const y2 = b.y;
    const middle = (y1 + y2) / 2;
    svg.appendChild(
      element('path', {
        d: `M${x1},${y1} C${x1},${middle} ${x2},${middle} ${x2},${y2}`,
        class: 'lab2prod-graph-edge',
        'marker-end': 'url(#lab2prod-arrow)'
      })
    );
  }
  const defs = element('defs', {});
  const marker = element('marker', {
    id: 'lab2prod-arrow',
    viewBox: '0 0 10 10',
    refX: 9,
    refY: 5,
    markerWidth: 6,
    markerHeight: 6,
    orient: 'auto-start-reverse'
  });
  marker.appendChild(
    element('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'lab2prod-graph-arrow' })
  );
  defs.appendChild(marker);
  svg.appendChild(defs);
  for (const box of boxes) {
    const group = element('g', {
      class: [
        'lab2prod-graph-box',
        `lab2prod-graph-${box.kind}`,
        box.role ? `lab2prod-graph-role-${box.role}` : '',
        box.kind === 'node' && box.label === options.active ? 'lab2prod-active' : ''
      ].join(' '),
      transform: `translate(${box.x},${box.y})`,
      'data-name': box.label
    });
    const radius = box.kind === 'node' ? 3 : HEIGHT / 2;
    group.appendChild(
      element('rect', { width: box.width, height: HEIGHT, rx: radius, ry: radius })
    );
    const text = element('text', { x: box.width / 2, y: HEIGHT / 2 + 4 });
    text.textContent = box.label;
    group.appendChild(text);
    const title = element('title', {});
    title.textContent =
      box.kind === 'node' ? `node ${box.label}` : `${box.role ?? 'dataset'} ${box.label}`;
    group.appendChild(title);
    if (box.kind === 'node') {
      group.addEventListener('click', () => options.onNode(box.label));
    }
    svg.appendChild(group);
  }
  return svg;
}
