// The drawing surface, on Konva: it draws the image and the shapes, and turns pointer input
// into shapes and edits. It holds no annotation state of its own: the editor hands it the
// shapes to show and receives callbacks with image-pixel coordinates.
//
// Konva gives us hit-testing, dragging, the resize handles (Transformer) and the blur and
// pixelate filters used to preview redaction regions; the rest is drawing tools.

import Konva from "konva";
import type { Drawn, Label, Point, Shape } from "./model";
import { colourOf, round } from "./model";

export type Tool = "select" | "bbox" | "polygon" | "redaction";

export interface Callbacks {
  /** A box was drawn with the box or redaction tool (image pixels). */
  boxDrawn(tool: "bbox" | "redaction", box: { x: number; y: number; w: number; h: number }): void;
  polygonDrawn(points: Point[]): void;
  /** A shape was moved, resized or reshaped: its new geometry. */
  changed(id: string, geometry: Partial<Drawn>): void;
  selected(id: string | null): void;
  /** The pointer's position in image pixels (for the status bar), or null when outside. */
  pointer(at: Point | null): void;
}

const CLOSE_DISTANCE = 10; // screen pixels from the first point that close a polygon
const MIN_BOX = 2; // image pixels
const DOUBLE_CLICK_MS = 400;

/** Where EXIF orientation `o` puts a stored w x h image on screen (DESIGN: stored pixels are
 * annotated; the editor only displays them turned). */
function orientation(o: number, w: number, h: number): Konva.NodeConfig {
  switch (o) {
    case 2: return { scaleX: -1, x: w };
    case 3: return { rotation: 180, x: w, y: h };
    case 4: return { scaleY: -1, y: h };
    case 5: return { rotation: 90, scaleY: -1 };
    case 6: return { rotation: 90, x: h };
    case 7: return { rotation: 90, scaleX: -1, x: h, y: w };
    case 8: return { rotation: -90, y: w };
    default: return {};
  }
}

function pointsOf(shape: Drawn): Point[] {
  return "points" in shape && shape.points ? shape.points : [];
}

export class Canvas {
  readonly stage: Konva.Stage;
  private layer = new Konva.Layer();
  private view = new Konva.Group(); // zoom and pan
  private world: Konva.Group; // image pixels, turned by the EXIF orientation
  private shapesGroup = new Konva.Group();
  private draft = new Konva.Group({ listening: false });
  private transformer = new Konva.Transformer({
    rotateEnabled: false, keepRatio: false, ignoreStroke: true, flipEnabled: false,
    anchorSize: 9, borderStroke: "#0b63ce", anchorStroke: "#0b63ce",
  });
  private tool: Tool = "select";
  private drawing: { start: Point; rect: Konva.Rect } | null = null;
  private polygon: Point[] = [];
  private shapes: Shape[] = [];
  private suggestions: Shape[] = [];
  private labels: Label[] = [];
  private selectedId: string | null = null;
  private readOnly = false;
  private displayW: number;
  private displayH: number;

  constructor(
    private container: HTMLDivElement,
    private image: HTMLImageElement,
    private width: number,
    private height: number,
    orient: number,
    private on: Callbacks,
  ) {
    const turned = orient >= 5 && orient <= 8;
    this.displayW = turned ? height : width;
    this.displayH = turned ? width : height;
    this.stage = new Konva.Stage({
      container, width: container.clientWidth, height: container.clientHeight,
    });
    this.world = new Konva.Group(orientation(orient, width, height));
    this.world.add(new Konva.Image({ image, width, height, name: "background" }));
    this.world.add(this.shapesGroup, this.draft);
    this.view.add(this.world);
    this.layer.add(this.view, this.transformer);
    this.stage.add(this.layer);
    this.bindPointer();
    new ResizeObserver(() => this.resize()).observe(container);
    this.fit();
  }

  // -- view --------------------------------------------------------------------------

  private resize(): void {
    this.stage.size({ width: this.container.clientWidth, height: this.container.clientHeight });
  }

  fit(): void {
    const scale = Math.min(this.stage.width() / this.displayW, this.stage.height() / this.displayH);
    this.view.scale({ x: scale, y: scale });
    this.view.position({
      x: (this.stage.width() - this.displayW * scale) / 2,
      y: (this.stage.height() - this.displayH * scale) / 2,
    });
  }

  zoomBy(factor: number, around?: { x: number; y: number }): void {
    const at = around ?? { x: this.stage.width() / 2, y: this.stage.height() / 2 };
    const old = this.view.scaleX();
    const scale = Math.min(64, Math.max(0.02, old * factor));
    const anchor = { x: (at.x - this.view.x()) / old, y: (at.y - this.view.y()) / old };
    this.view.scale({ x: scale, y: scale });
    this.view.position({ x: at.x - anchor.x * scale, y: at.y - anchor.y * scale });
  }

  get zoom(): number {
    return this.view.scaleX();
  }

  // -- state from the editor -----------------------------------------------------------

  setTool(tool: Tool): void {
    this.cancelDrawing();
    this.tool = tool;
    this.container.dataset.tool = tool;
    this.render();
  }

  setReadOnly(readOnly: boolean): void {
    this.readOnly = readOnly;
    this.render();
  }

  show(shapes: Shape[], selectedId: string | null, labels: Label[], suggestions: Shape[] = []): void {
    this.shapes = shapes;
    this.selectedId = selectedId;
    this.labels = labels;
    this.suggestions = suggestions;
    this.render();
  }

  /** True while a polygon is half drawn (Enter closes it, Escape drops it). */
  get drawingPolygon(): boolean {
    return this.polygon.length > 0;
  }

  closePolygon(): void {
    if (this.polygon.length >= 3) this.on.polygonDrawn(this.polygon.map(([x, y]) => [round(x), round(y)]));
    this.cancelDrawing();
  }

  cancelDrawing(): void {
    this.polygon = [];
    this.drawing?.rect.destroy();
    this.drawing = null;
    this.draft.destroyChildren();
  }

  // -- rendering -----------------------------------------------------------------------

  private render(): void {
    this.shapesGroup.destroyChildren();
    this.transformer.nodes([]);
    const editable = this.tool === "select" && !this.readOnly;
    for (const shape of this.shapes) {
      if (shape.type === "tag") continue;
      const node = this.nodeFor(shape, editable);
      this.shapesGroup.add(node);
      if (shape.id === this.selectedId && editable) this.decorateSelection(shape, node);
    }
    for (const suggestion of this.suggestions) {
      if (suggestion.type === "tag") continue;
      const node = this.nodeFor(suggestion, false);
      node.setAttrs({ dash: [8, 6], opacity: 0.9, fillEnabled: false, name: "suggestion" });
      this.shapesGroup.add(node);
    }
    this.layer.batchDraw();
  }

  private nodeFor(shape: Drawn, editable: boolean): Konva.Shape {
    const colour = colourOf(shape, this.labels);
    const selected = shape.id === this.selectedId;
    const common = {
      id: shape.id, name: "shape", stroke: selected ? "#0b63ce" : colour,
      strokeWidth: selected ? 3 : 2, strokeScaleEnabled: false, draggable: editable,
      fill: `${colour}2e`, hitStrokeWidth: 12,
    };
    let node: Konva.Shape;
    if (shape.type === "polygon" || (shape.type === "redaction" && shape.points)) {
      const points = (shape.points ?? []).flat();
      node = new Konva.Line({ ...common, points, closed: true });
    } else {
      const { x = 0, y = 0, w = 0, h = 0 } = shape as { x?: number; y?: number; w?: number; h?: number };
      node = new Konva.Rect({ ...common, x, y, width: w, height: h });
    }
    if (shape.type === "redaction") {
      node.setAttrs({ dash: [6, 4], fill: "rgba(0,0,0,0)" });
      this.shapesGroup.add(this.redactionPreview(shape));
    }
    // Select on click, not mousedown: re-rendering on mousedown would drop a drag just begun.
    node.on("click tap", () => {
      if (this.tool === "select") this.on.selected(shape.id);
    });
    node.on("dragend", () => this.commitMove(shape, node));
    node.on("transformend", () => this.commitResize(shape, node as Konva.Rect));
    return node;
  }

  /** What a redaction will do, drawn under its outline: the region blurred, pixelated or filled. */
  private redactionPreview(shape: Extract<Shape, { type: "redaction" }>): Konva.Shape {
    if (shape.points || shape.method === "fill") {
      const points = shape.points?.flat();
      return points
        ? new Konva.Line({ points, closed: true, fill: shape.method === "fill" ? "#000" : "rgba(0,0,0,0.55)", listening: false })
        : new Konva.Rect({ x: shape.x, y: shape.y, width: shape.w, height: shape.h, fill: "#000", listening: false });
    }
    const { x = 0, y = 0, w = 1, h = 1 } = shape;
    const preview = new Konva.Image({
      image: this.image, x, y, width: w, height: h,
      crop: { x, y, width: w, height: h }, listening: false,
    });
    preview.cache();
    if (shape.method === "blur") {
      preview.filters([Konva.Filters.Blur]);
      preview.blurRadius(Math.max(4, Math.min(w, h) / 6));
    } else {
      preview.filters([Konva.Filters.Pixelate]);
      preview.pixelSize(Math.max(4, Math.round(Math.min(w, h) / 8)));
    }
    return preview;
  }

  private decorateSelection(shape: Drawn, node: Konva.Shape): void {
    if (node instanceof Konva.Rect) {
      this.transformer.nodes([node]);
      this.transformer.moveToTop();
      return;
    }
    const points = pointsOf(shape);
    points.forEach(([px, py], index) => {
      const handle = new Konva.Circle({
        x: px, y: py, radius: 5 / this.zoom, fill: "#fff", stroke: "#0b63ce", strokeWidth: 2,
        strokeScaleEnabled: false, draggable: true, name: "vertex",
      });
      handle.on("mousedown touchstart", (e) => { e.cancelBubble = true; });
      handle.on("dragmove", () => {
        const moved = (node as Konva.Line).points().slice();
        moved[index * 2] = handle.x();
        moved[index * 2 + 1] = handle.y();
        (node as Konva.Line).points(moved);
      });
      handle.on("dragend", () => {
        const next = points.map((p, i): Point => (i === index ? this.clamp([handle.x(), handle.y()]) : p));
        this.on.changed(shape.id, { points: next.map(([x, y]): Point => [round(x), round(y)]) });
      });
      this.shapesGroup.add(handle);
    });
  }

  private clamp([x, y]: Point): Point {
    return [Math.min(this.width, Math.max(0, x)), Math.min(this.height, Math.max(0, y))];
  }

  private commitMove(shape: Drawn, node: Konva.Shape): void {
    if (node instanceof Konva.Rect) {
      const w = node.width(), h = node.height();
      const x = Math.min(this.width - w, Math.max(0, node.x()));
      const y = Math.min(this.height - h, Math.max(0, node.y()));
      this.on.changed(shape.id, { x: round(x), y: round(y) });
      return;
    }
    const dx = node.x(), dy = node.y();
    const points = pointsOf(shape);
    const xs = points.map((p) => p[0] + dx), ys = points.map((p) => p[1] + dy);
    // Keep the whole polygon inside the image: shift it back by what sticks out.
    const sx = Math.max(0, -Math.min(...xs)) - Math.max(0, Math.max(...xs) - this.width);
    const sy = Math.max(0, -Math.min(...ys)) - Math.max(0, Math.max(...ys) - this.height);
    this.on.changed(shape.id, {
      points: points.map(([x, y]): Point => [round(x + dx + sx), round(y + dy + sy)]),
    });
  }

  private commitResize(shape: Drawn, node: Konva.Rect): void {
    const [x0, y0] = this.clamp([node.x(), node.y()]);
    const [x1, y1] = this.clamp([node.x() + node.width() * node.scaleX(), node.y() + node.height() * node.scaleY()]);
    node.scale({ x: 1, y: 1 });
    this.on.changed(shape.id, { x: round(x0), y: round(y0), w: round(x1 - x0), h: round(y1 - y0) });
  }

  // -- pointer input -------------------------------------------------------------------

  private imagePoint(): Point | null {
    const pos = this.stage.getPointerPosition();
    if (!pos) return null;
    const p = this.world.getAbsoluteTransform().copy().invert().point(pos);
    return [p.x, p.y];
  }

  private inside([x, y]: Point): boolean {
    return x >= 0 && y >= 0 && x <= this.width && y <= this.height;
  }

  private bindPointer(): void {
    this.stage.on("wheel", (e) => {
      e.evt.preventDefault();
      const pos = this.stage.getPointerPosition() ?? undefined;
      this.zoomBy(e.evt.deltaY < 0 ? 1.15 : 1 / 1.15, pos);
      this.render();
    });
    this.stage.on("mousedown touchstart", (e) => this.pointerDown(e));
    this.stage.on("mousemove touchmove", () => this.pointerMove());
    this.stage.on("mouseup touchend", () => this.pointerUp());
    this.stage.on("mouseleave", () => this.on.pointer(null));
  }

  private pointerDown(e: Konva.KonvaEventObject<MouseEvent | TouchEvent>): void {
    const at = this.imagePoint();
    if (!at) return;
    const onEmpty = e.target === this.stage || e.target.name() === "background";
    if (this.tool === "select") {
      if (onEmpty) {
        this.on.selected(null);
        this.panFrom = this.stage.getPointerPosition();
      }
      return;
    }
    if (this.readOnly || !this.inside(at)) return;
    if (this.tool === "polygon") {
      this.addPolygonPoint(at);
      return;
    }
    const colour = this.tool === "redaction" ? "#111111" : "#0b63ce";
    const rect = new Konva.Rect({
      x: at[0], y: at[1], width: 0, height: 0, stroke: colour, strokeWidth: 2,
      strokeScaleEnabled: false, dash: [6, 4],
    });
    this.draft.add(rect);
    this.drawing = { start: at, rect };
  }

  private panFrom: { x: number; y: number } | null = null;
  private lastClick = 0;

  private addPolygonPoint(at: Point): void {
    // A double click (a second click on the last point, quickly) finishes the polygon. Not
    // Konva's dblclick: it fires for any two quick clicks, wherever they land.
    const last = this.polygon[this.polygon.length - 1];
    const now = performance.now();
    const again = last && Math.hypot(last[0] - at[0], last[1] - at[1]) * this.zoom <= 4 &&
      now - this.lastClick < DOUBLE_CLICK_MS;
    this.lastClick = now;
    if (again) {
      this.closePolygon();
      return;
    }
    if (this.polygon.length >= 3) {
      const first = this.polygon[0];
      const distance = Math.hypot(first[0] - at[0], first[1] - at[1]) * this.zoom;
      if (distance <= CLOSE_DISTANCE) {
        this.closePolygon();
        return;
      }
    }
    this.polygon.push(at);
    this.drawPolygonDraft(at);
  }

  private drawPolygonDraft(cursor: Point | null): void {
    this.draft.destroyChildren();
    if (!this.polygon.length) return;
    const points = [...this.polygon, ...(cursor ? [cursor] : [])].flat();
    this.draft.add(new Konva.Line({
      points, stroke: "#0b63ce", strokeWidth: 2, strokeScaleEnabled: false, dash: [6, 4],
    }));
    for (const [x, y] of this.polygon) {
      this.draft.add(new Konva.Circle({
        x, y, radius: 4 / this.zoom, fill: "#0b63ce",
      }));
    }
    this.layer.batchDraw();
  }

  private pointerMove(): void {
    const at = this.imagePoint();
    this.on.pointer(at && this.inside(at) ? [round(at[0]), round(at[1])] : null);
    if (this.panFrom) {
      const pos = this.stage.getPointerPosition();
      if (pos) {
        this.view.position({ x: this.view.x() + pos.x - this.panFrom.x, y: this.view.y() + pos.y - this.panFrom.y });
        this.panFrom = pos;
        this.layer.batchDraw();
      }
      return;
    }
    if (!at) return;
    if (this.drawing) {
      const [sx, sy] = this.drawing.start;
      const [cx, cy] = this.clamp(at);
      this.drawing.rect.setAttrs({
        x: Math.min(sx, cx), y: Math.min(sy, cy), width: Math.abs(cx - sx), height: Math.abs(cy - sy),
      });
      this.layer.batchDraw();
    } else if (this.polygon.length) {
      this.drawPolygonDraft(this.clamp(at));
    }
  }

  private pointerUp(): void {
    this.panFrom = null;
    if (!this.drawing) return;
    const { rect } = this.drawing;
    const box = { x: round(rect.x()), y: round(rect.y()), w: round(rect.width()), h: round(rect.height()) };
    this.cancelDrawing();
    if (box.w >= MIN_BOX && box.h >= MIN_BOX && (this.tool === "bbox" || this.tool === "redaction")) {
      this.on.boxDrawn(this.tool, box);
    }
    this.layer.batchDraw();
  }
}
