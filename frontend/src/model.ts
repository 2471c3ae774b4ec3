// The annotation as the editor holds it: the shapes of DESIGN.md, the label schema, and an
// undo/redo history of whole snapshots (annotations are small; snapshots cannot drift).

export type Point = [number, number];

export interface Attribute {
  name: string;
  type: "text" | "number" | "boolean" | "choice";
  options: string[];
  required: boolean;
}

export interface Label {
  name: string;
  kind: "bbox" | "polygon" | "tag";
  color: string;
  attributes: Attribute[];
}

export type AttrValue = string | number | boolean;

interface Base {
  id: string;
  attributes?: Record<string, AttrValue>;
}

export interface BBox extends Base { type: "bbox"; label: string; x: number; y: number; w: number; h: number }
export interface Polygon extends Base { type: "polygon"; label: string; points: Point[] }
export interface Tag extends Base { type: "tag"; label: string }
export interface Redaction extends Base {
  type: "redaction";
  method: "blur" | "pixelate" | "fill";
  x?: number; y?: number; w?: number; h?: number;
  points?: Point[];
}

export type Shape = BBox | Polygon | Tag | Redaction;
export type Drawn = BBox | Polygon | Redaction;

export function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function isDrawn(shape: Shape): shape is Drawn {
  return shape.type !== "tag";
}

const REDACTION_COLOUR = "#111111";

export function colourOf(shape: Shape, labels: Label[]): string {
  if (shape.type === "redaction") return REDACTION_COLOUR;
  return labels.find((l) => l.name === shape.label)?.color ?? "#888888";
}

export function describe(shape: Shape): string {
  if (shape.type === "redaction") return `redaction (${shape.method})`;
  return `${shape.label} ${shape.type === "bbox" ? "box" : shape.type}`;
}

/** Round to 1/100 px: what is stored is what was drawn, without float noise. */
export function round(v: number): number {
  return Math.round(v * 100) / 100;
}

export class History {
  private past: string[] = [];
  private future: string[] = [];

  constructor(private limit = 200) {}

  /** Remember `shapes` as they were before a change. */
  push(shapes: Shape[]): void {
    this.past.push(JSON.stringify(shapes));
    if (this.past.length > this.limit) this.past.shift();
    this.future = [];
  }

  undo(current: Shape[]): Shape[] | null {
    const previous = this.past.pop();
    if (previous === undefined) return null;
    this.future.push(JSON.stringify(current));
    return JSON.parse(previous);
  }

  redo(current: Shape[]): Shape[] | null {
    const next = this.future.pop();
    if (next === undefined) return null;
    this.past.push(JSON.stringify(current));
    return JSON.parse(next);
  }

  clear(): void {
    this.past = [];
    this.future = [];
  }
}
