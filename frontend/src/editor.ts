// The annotation editor: one task, its image, its shapes. It keeps the working copy of the
// annotation, saves it with If-Match (autosave, Ctrl+S), shows a conflict when someone else
// saved in between, and hands the work in. Every rule is the server's; this is a client.

import "./editor.css";
import { ApiError, call } from "./api";
import type { Tool } from "./canvas";
import { Canvas } from "./canvas";
import { h, replace } from "./dom";
import type { AttrValue, Drawn, Label, Point, Shape } from "./model";
import { History, describe, isDrawn, newId } from "./model";

interface Boot {
  task: { id: number; project: number; asset: number; name: string; state: string; assignee: string | null;
          version: number; width: number; height: number; orientation: number };
  labels: Label[];
  redaction_methods: string[];
  image_url: string;
  queue_url: string;
  note: { version: number; answers: { question: string; answer: string }[] } | null;
  can_edit: boolean;
  can_submit: boolean;
  can_escalate: boolean;
  is_assignee: boolean;
  read_only_reason: string;
  predictions: (Shape & { score?: number; model?: string })[];
  escalation_reasons: string[];
  last_review: { decision: string; comment: string; reviewer: string; at: string; version: number } | null;
  review: { redaction_rules: string[] } | null;
}

interface Saved { version: number; shapes: Shape[]; updated_at: string | null; updated_by: string | null; state?: string }

type Status = "saved" | "unsaved" | "saving" | "conflict" | "error" | "readonly";

const AUTOSAVE_MS = 1500;
const STATUS_TEXT: Record<Status, string> = {
  saved: "All changes saved", unsaved: "Unsaved changes", saving: "Saving…",
  conflict: "Conflict: someone else saved", error: "Not saved", readonly: "Read only",
};
const SHORTCUTS: [string, string][] = [
  ["1 – 9", "pick a label (tags toggle)"], ["B", "box tool"], ["P", "polygon tool"],
  ["R", "redaction region tool"], ["V / Esc", "select and move; Esc also drops a half-drawn polygon"],
  ["Delete", "delete the selected shape"], ["Ctrl+Z", "undo"], ["Ctrl+Shift+Z", "redo"],
  ["Ctrl+S", "save now"], ["Enter", "close the polygon being drawn, else submit the task"],
  ["N", "next task"], ["F", "fit the image"], ["+ / −", "zoom"], ["?", "this help"],
];

class Editor {
  private shapes: Shape[] = [];
  private version: number;
  private state: string;
  private status: Status = "saved";
  private selected: string | null = null;
  private label: Label | null;
  private tool: Tool = "select";
  private history = new History();
  private suggestions: Boot["predictions"];
  private timer: number | undefined;
  private saving: Promise<boolean> | null = null;
  private canvas!: Canvas;
  private el: Record<string, HTMLElement> = {};
  private canvasEl!: HTMLDivElement;

  constructor(private boot: Boot, private root: HTMLElement) {
    this.version = boot.task.version;
    this.state = boot.task.state;
    this.label = boot.labels.find((l) => l.kind !== "tag") ?? null;
    this.suggestions = [...boot.predictions];
  }

  async start(): Promise<void> {
    this.layout();
    const [image, saved] = await Promise.all([
      loadImage(this.boot.image_url),
      call<Saved>("GET", `/tasks/${this.boot.task.id}/annotation`),
    ]);
    this.shapes = saved.data.shapes;
    this.version = saved.data.version;
    const t = this.boot.task;
    this.canvas = new Canvas(this.canvasEl, image, t.width, t.height, t.orientation, {
      boxDrawn: (tool, box) => this.addBox(tool, box),
      polygonDrawn: (points) => this.addPolygon(points),
      changed: (id, geometry) => this.change(id, geometry),
      selected: (id) => this.select(id),
      pointer: (at) => { this.el.pointer.textContent = at ? `${at[0]}, ${at[1]}` : ""; },
    });
    this.canvas.setReadOnly(!this.boot.can_edit);
    this.setStatus(this.boot.can_edit ? "saved" : "readonly");
    document.addEventListener("keydown", (e) => this.key(e));
    window.addEventListener("beforeunload", (e) => {
      if (["unsaved", "saving", "conflict", "error"].includes(this.status)) e.preventDefault();
    });
    this.root.dataset.ready = "true";
    this.refresh();
  }

  // -- layout ------------------------------------------------------------------------

  private layout(): void {
    const b = this.boot;
    const btn = (name: string, text: string, title: string, on: () => void, disabled = false) =>
      (this.el[name] = h("button", { type: "button", title, onclick: on, disabled, "data-action": name }, text));
    this.el.canvas = this.canvasEl = h("div", { class: "canvas", "data-testid": "canvas", "aria-label": "Image" });
    this.el.status = h("span", { class: "status", role: "status", "data-testid": "status" });
    this.el.pointer = h("span", { class: "pointer" });
    this.el.tools = h("div", { class: "tools", role: "toolbar", "aria-label": "Tools" });
    this.el.labels = h("div", { class: "labels", role: "group", "aria-label": "Labels" });
    this.el.tags = h("div", { class: "tags" });
    this.el.detail = h("div", { class: "detail" });
    this.el.list = h("ol", { class: "shape-list", "data-testid": "shapes" });
    this.el.suggestions = h("div", { class: "suggestions" });
    this.el.message = h("div", { class: "message", role: "alert", hidden: true });
    this.el.conflict = h("section", { class: "conflict", hidden: true, "data-testid": "conflict" });
    this.el.help = this.helpDialog();
    this.el.escalate = this.escalateDialog();
    replace(this.root,
      h("header", { class: "editor-bar" },
        h("a", { href: b.queue_url, class: "back" }, "← Queue"),
        h("strong", { class: "name", title: b.task.name }, b.task.name),
        h("span", { class: "state", "data-testid": "state" }, ""),
        this.el.status,
        h("span", { class: "spacer" }),
        btn("save", "Save", "Save now (Ctrl+S)", () => void this.save(), !b.can_edit),
        btn("submit", "Submit", "Hand the task in (Enter)", () => void this.submit(), !b.can_submit),
        btn("next", "Next task", "Next task (N)", () => void this.next()),
        btn("suggest", "Suggest redactions", "Find faces and text with the local models", () => void this.suggestRedactions(), !b.can_edit),
        btn("escalateOpen", "Escalate…", "Escalate with a reason", () => this.openEscalate(), !b.can_escalate),
        btn("helpOpen", "?", "Keyboard shortcuts (?)", () => (this.el.help as HTMLDialogElement).showModal()),
      ),
      b.can_edit ? null : h("p", { class: "readonly-note" }, b.read_only_reason),
      this.reviewBanner(),
      this.el.message,
      this.el.conflict,
      h("div", { class: "editor-body" },
        h("div", { class: "stage-wrap" }, this.el.canvas, h("div", { class: "statusbar" }, this.el.pointer)),
        h("aside", { class: "panel" },
          this.reviewPanel(),
          this.el.tools,
          h("h2", {}, "Labels"), this.el.labels,
          h("h2", {}, "Image tags"), this.el.tags,
          h("h2", {}, "Selected"), this.el.detail,
          h("h2", {}, "Shapes"), this.el.list,
          this.el.suggestions,
          h("details", { class: "note", open: true, "data-testid": "operating-note" },
            h("summary", {}, b.note ? `Operating note (v${b.note.version})` : "Operating note"),
            b.note
              ? h("dl", {}, b.note.answers.flatMap((a) => [h("dt", {}, a.question), h("dd", {}, a.answer)]))
              : h("p", {}, "The project has no operating note yet; ask its owner.")),
        ),
      ),
      this.el.help, this.el.escalate,
    );
  }

  private helpDialog(): HTMLDialogElement {
    return h("dialog", { class: "help", "data-testid": "help" },
      h("h2", {}, "Keyboard shortcuts"),
      h("dl", {}, SHORTCUTS.flatMap(([k, v]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, v)])),
      h("form", { method: "dialog" }, h("button", {}, "Close")));
  }

  private escalateDialog(): HTMLDialogElement {
    const reasons = this.boot.escalation_reasons;
    const reason = reasons.length
      ? h("select", { name: "reason", required: true }, reasons.map((r) => h("option", { value: r }, r)))
      : h("input", { name: "reason", required: true, maxlength: 2000 });
    const note = h("textarea", { name: "note", rows: 3, maxlength: 2000,
                                 placeholder: "What you saw, in your words" });
    const dialog = h("dialog", { class: "escalate" },
      h("form", { method: "dialog", onsubmit: (e: Event) => {
        e.preventDefault();
        void this.escalate(reason.value, note.value).then((ok) => { if (ok) dialog.close(); });
      } },
        h("h2", {}, "Escalate this task"),
        h("p", {}, "Escalated tasks wait, frozen, until an owner or reviewer resolves them."),
        h("label", {}, "Reason", reason),
        h("label", {}, "Note", note),
        h("div", { class: "row" },
          h("button", { type: "submit" }, "Escalate"),
          h("button", { type: "button", onclick: () => dialog.close() }, "Cancel"))));
    return dialog;
  }

  // -- review ----------------------------------------------------------------------------

  /** The last decision on this task, when it sent the work back: what to fix. */
  private reviewBanner(): HTMLElement | null {
    const last = this.boot.last_review;
    if (!last || last.decision !== "reject" || !["rejected", "assigned"].includes(this.state)) return null;
    return h("section", { class: "review-comment", "data-testid": "review-comment" },
      h("strong", {}, `Sent back by ${last.reviewer}: `), last.comment);
  }

  private reviewPanel(): HTMLElement | null {
    const review = this.boot.review;
    if (!review) return null;
    const rules = review.redaction_rules.map((rule) =>
      h("input", { type: "checkbox", "data-rule": rule, value: rule }));
    const comment = h("textarea", { rows: 3, maxlength: 5000, "data-testid": "review-text",
                                    placeholder: "What to fix (needed to send back)" });
    const decide = (decision: "accept" | "reject") => void this.decide(
      decision, comment.value, rules.filter((r) => r.checked).map((r) => r.value));
    return h("section", { class: "review", "data-testid": "review-panel" },
      h("h2", {}, "Review"),
      rules.length ? h("p", {}, "Confirm each redaction rule holds on this image:") : null,
      rules.map((box) => h("label", { class: "check" }, box, box.value)),
      h("label", {}, "Comment", comment),
      h("div", { class: "row" },
        h("button", { type: "button", "data-action": "accept", onclick: () => decide("accept") }, "Accept"),
        h("button", { type: "button", "data-action": "reject", onclick: () => decide("reject") }, "Send back")));
  }

  private async decide(decision: "accept" | "reject", comment: string, confirmations: string[]): Promise<void> {
    if (this.boot.can_edit && !(await this.save())) return; // corrections first
    try {
      await call("POST", `/tasks/${this.boot.task.id}/review`,
        { decision, comment, confirmations, version: this.version });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const missing = (e.problem.missing as string[] | undefined) ?? [];
      this.say([e.problem.detail, ...missing.map((m) => `Not confirmed: ${m}.`)].join(" "));
      return;
    }
    const { data } = await call<{ items: { id: number }[] }>(
      "GET", `/projects/${this.boot.task.project}/review-queue?limit=1`);
    window.location.assign(data.items.length ? `/tasks/${data.items[0].id}`
      : `/projects/${this.boot.task.project}/review?done=1`);
  }

  // -- rendering the panels -------------------------------------------------------------

  private refresh(): void {
    this.canvas.show(this.shapes, this.selected, this.boot.labels, this.suggestions.filter(isDrawn));
    (this.root.querySelector("[data-testid=state]") as HTMLElement).textContent = `${this.state} · v${this.version}`;
    (this.el.submit as HTMLButtonElement).disabled = !this.boot.can_submit;
    (this.el.escalateOpen as HTMLButtonElement).disabled = !this.boot.can_escalate;
    this.renderTools();
    this.renderLabels();
    this.renderTags();
    this.renderDetail();
    this.renderList();
    this.renderSuggestions();
  }

  private renderTools(): void {
    const tools: [Tool, string, string][] = [
      ["select", "Select", "V"], ["bbox", "Box", "B"], ["polygon", "Polygon", "P"], ["redaction", "Redact", "R"]];
    replace(this.el.tools, tools.map(([tool, text, key]) =>
      h("button", { type: "button", "aria-pressed": String(this.tool === tool), disabled: !this.boot.can_edit && tool !== "select",
                    title: `${text} (${key})`, "data-tool": tool, onclick: () => this.setTool(tool) },
        text, h("kbd", {}, key))));
  }

  private renderLabels(): void {
    replace(this.el.labels, this.boot.labels.map((label, i) =>
      h("button", { type: "button", class: "label", "aria-pressed": String(this.label?.name === label.name),
                    "data-label": label.name, onclick: () => this.pickLabel(i) },
        h("span", { class: `swatch swatch-${i}` }), label.name,
        h("small", {}, label.kind), i < 9 ? h("kbd", {}, String(i + 1)) : null)));
    this.paintSwatches();
    if (!this.boot.labels.length) this.el.labels.append(h("p", {}, "The project has no labels yet."));
  }

  /** Colours come from the schema; CSP forbids inline styles, so set them through the CSSOM. */
  private paintSwatches(): void {
    this.root.querySelectorAll<HTMLElement>(".swatch").forEach((el) => {
      const i = Number(/swatch-(\d+)/.exec(el.className)?.[1] ?? -1);
      if (this.boot.labels[i]) el.style.background = this.boot.labels[i].color;
    });
  }

  private renderTags(): void {
    const tags = this.boot.labels.filter((l) => l.kind === "tag");
    replace(this.el.tags, tags.length ? tags.map((label) => h("label", { class: "tag" },
      h("input", { type: "checkbox", checked: this.shapes.some((s) => s.type === "tag" && s.label === label.name),
                   disabled: !this.boot.can_edit, "data-tag": label.name, onchange: () => this.toggleTag(label.name) }),
      label.name)) : [h("p", { class: "muted" }, "No tag labels.")]);
  }

  private renderList(): void {
    const drawn = this.shapes.filter(isDrawn);
    replace(this.el.list, drawn.map((shape) => h("li", {
      "data-shape-id": shape.id, "data-type": shape.type, "aria-current": String(shape.id === this.selected),
    }, h("button", { type: "button", onclick: () => this.select(shape.id) }, describe(shape)))));
    if (!drawn.length) this.el.list.append(h("li", { class: "muted" }, "Nothing drawn yet."));
  }

  private renderDetail(): void {
    const shape = this.shapes.find((s) => s.id === this.selected);
    if (!shape || !isDrawn(shape)) {
      replace(this.el.detail, h("p", { class: "muted" }, "Click a shape to select it."));
      return;
    }
    const editable = this.boot.can_edit;
    const parts: Node[] = [];
    if (shape.type === "redaction") {
      parts.push(h("label", {}, "Method", h("select", {
        disabled: !editable, onchange: (e: Event) => this.change(shape.id, { method: (e.target as HTMLSelectElement).value as "blur" }),
      }, this.boot.redaction_methods.map((m) => h("option", { value: m, selected: m === shape.method }, m)))));
    } else {
      const same = this.boot.labels.filter((l) => l.kind === shape.type);
      parts.push(h("label", {}, "Label", h("select", {
        disabled: !editable, "data-testid": "shape-label",
        onchange: (e: Event) => this.relabel(shape.id, (e.target as HTMLSelectElement).value),
      }, same.map((l) => h("option", { value: l.name, selected: l.name === shape.label }, l.name)))));
      const label = this.boot.labels.find((l) => l.name === shape.label);
      for (const attr of label?.attributes ?? []) parts.push(this.attributeInput(shape, attr, editable));
    }
    parts.push(h("button", { type: "button", class: "danger", disabled: !editable, onclick: () => this.remove() }, "Delete (Del)"));
    replace(this.el.detail, parts);
  }

  private attributeInput(shape: Drawn, attr: Label["attributes"][number], editable: boolean): Node {
    const value = shape.attributes?.[attr.name];
    const set = (v: AttrValue | undefined) => this.setAttribute(shape.id, attr.name, v);
    const name = `${attr.name}${attr.required ? " *" : ""}`;
    if (attr.type === "boolean") {
      return h("label", { class: "check" }, h("input", { type: "checkbox", checked: value === true, disabled: !editable,
        onchange: (e: Event) => set((e.target as HTMLInputElement).checked) }), name);
    }
    if (attr.type === "choice") {
      return h("label", {}, name, h("select", { disabled: !editable, onchange: (e: Event) => {
        const v = (e.target as HTMLSelectElement).value; set(v === "" ? undefined : v);
      } }, h("option", { value: "" }, "—"), attr.options.map((o) => h("option", { value: o, selected: o === value }, o))));
    }
    return h("label", {}, name, h("input", {
      type: attr.type === "number" ? "number" : "text", value: value === undefined ? "" : String(value),
      disabled: !editable, onchange: (e: Event) => {
        const raw = (e.target as HTMLInputElement).value;
        set(raw === "" ? undefined : attr.type === "number" ? Number(raw) : raw);
      },
    }));
  }

  private renderSuggestions(): void {
    if (!this.suggestions.length) { replace(this.el.suggestions); return; }
    replace(this.el.suggestions,
      h("h2", {}, `Suggestions (${this.suggestions.length})`),
      h("div", { class: "row" },
        h("button", { type: "button", disabled: !this.boot.can_edit, onclick: () => this.acceptSuggestions(this.suggestions) }, "Accept all"),
        h("button", { type: "button", onclick: () => { this.suggestions = []; this.refresh(); } }, "Dismiss all")),
      h("ul", {}, this.suggestions.map((s) => h("li", {},
        `${describe(s)}${s.score !== undefined ? ` ${Math.round(s.score * 100)}%` : ""}`,
        h("button", { type: "button", disabled: !this.boot.can_edit, onclick: () => this.acceptSuggestions([s]) }, "Accept"),
        h("button", { type: "button", onclick: () => { this.suggestions = this.suggestions.filter((x) => x !== s); this.refresh(); } }, "Dismiss")))));
  }

  // -- edits ---------------------------------------------------------------------------

  private edit(mutate: (shapes: Shape[]) => Shape[]): void {
    if (!this.boot.can_edit) return;
    this.history.push(this.shapes);
    this.shapes = mutate(structuredClone(this.shapes));
    this.changed();
  }

  private changed(): void {
    this.refresh();
    if (this.status === "conflict") return; // the person decides first
    this.setStatus("unsaved");
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.save(), AUTOSAVE_MS);
  }

  private addBox(tool: "bbox" | "redaction", box: { x: number; y: number; w: number; h: number }): void {
    if (tool === "redaction") {
      const id = newId();
      this.edit((s) => [...s, { id, type: "redaction", method: "blur", ...box }]);
      return;
    }
    const label = this.label;
    if (!label || label.kind !== "bbox") { this.say("Pick a box label first (number keys)."); return; }
    const id = newId();
    this.edit((s) => [...s, { id, type: "bbox", label: label.name, ...box }]);
  }

  private addPolygon(points: Point[]): void {
    const label = this.label;
    if (!label || label.kind !== "polygon") { this.say("Pick a polygon label first (number keys)."); return; }
    this.edit((s) => [...s, { id: newId(), type: "polygon", label: label.name, points }]);
  }

  private change(id: string, geometry: Partial<Drawn>): void {
    this.selected = id;
    this.edit((s) => s.map((shape) => (shape.id === id ? ({ ...shape, ...geometry } as Shape) : shape)));
  }

  private relabel(id: string, label: string): void {
    this.edit((s) => s.map((shape) => (shape.id === id && "label" in shape ? { ...shape, label, attributes: undefined } : shape)));
  }

  private setAttribute(id: string, name: string, value: AttrValue | undefined): void {
    this.edit((s) => s.map((shape) => {
      if (shape.id !== id) return shape;
      const attributes = { ...(shape.attributes ?? {}) };
      if (value === undefined) delete attributes[name]; else attributes[name] = value;
      return { ...shape, attributes };
    }));
  }

  private toggleTag(name: string): void {
    this.edit((s) => s.some((x) => x.type === "tag" && x.label === name)
      ? s.filter((x) => !(x.type === "tag" && x.label === name))
      : [...s, { id: newId(), type: "tag", label: name }]);
  }

  private remove(): void {
    const id = this.selected;
    if (!id) return;
    this.selected = null;
    this.edit((s) => s.filter((shape) => shape.id !== id));
  }

  private acceptSuggestions(chosen: Shape[]): void {
    const known = new Set(this.boot.labels.map((l) => l.name));
    const fitting = chosen.filter((s) => s.type === "redaction" || known.has(s.label));
    if (fitting.length < chosen.length) this.say("Some suggestions use labels the project does not have; they were left.");
    this.edit((s) => [...s, ...fitting.map((x) => {
      const { score: _score, model: _model, ...shape } = x as Shape & { score?: number; model?: string };
      return { ...shape, id: newId() } as Shape;
    })]);
    this.suggestions = this.suggestions.filter((x) => !fitting.includes(x));
    this.refresh();
  }

  private select(id: string | null): void {
    this.selected = id;
    this.refresh();
  }

  private undo(redo = false): void {
    const restored = redo ? this.history.redo(this.shapes) : this.history.undo(this.shapes);
    if (!restored) return;
    this.shapes = restored;
    if (!this.shapes.some((s) => s.id === this.selected)) this.selected = null;
    this.changed();
  }

  private setTool(tool: Tool): void {
    this.tool = tool;
    if (tool === "bbox" && this.label?.kind !== "bbox") this.label = this.boot.labels.find((l) => l.kind === "bbox") ?? this.label;
    if (tool === "polygon" && this.label?.kind !== "polygon") this.label = this.boot.labels.find((l) => l.kind === "polygon") ?? this.label;
    this.canvas.setTool(tool);
    this.refresh();
  }

  private pickLabel(index: number): void {
    const label = this.boot.labels[index];
    if (!label) return;
    if (label.kind === "tag") { this.toggleTag(label.name); return; }
    this.label = label;
    const shape = this.shapes.find((s) => s.id === this.selected);
    if (shape && "label" in shape && shape.type === label.kind && shape.label !== label.name) {
      this.relabel(shape.id, label.name);
      return;
    }
    this.setTool(label.kind === "bbox" ? "bbox" : "polygon");
  }

  // -- talking to the server -------------------------------------------------------------

  private setStatus(status: Status, detail = ""): void {
    this.status = status;
    this.el.status.dataset.status = status;
    this.el.status.textContent = detail ? `${STATUS_TEXT[status]}: ${detail}` : STATUS_TEXT[status];
    if (status === "saved") this.say("");
  }

  private say(text: string): void {
    this.el.message.textContent = text;
    this.el.message.hidden = !text;
  }

  /** Save if there is anything to save; true when the server holds what is on screen. */
  async save(): Promise<boolean> {
    window.clearTimeout(this.timer);
    if (!this.boot.can_edit || this.status === "conflict") return this.status !== "conflict";
    if (this.saving) {
      await this.saving;
      return this.status === "unsaved" ? this.save() : this.status === "saved";
    }
    if (this.status === "saved") return true;
    this.saving = this.put();
    try { return await this.saving; } finally { this.saving = null; }
  }

  private async put(): Promise<boolean> {
    const sent = JSON.stringify(this.shapes);
    this.setStatus("saving");
    try {
      const { data } = await call<Saved>("PUT", `/tasks/${this.boot.task.id}/annotation`,
        { shapes: this.shapes }, { "If-Match": String(this.version) });
      this.version = data.version;
      if (data.state) {
        this.state = data.state;
        // Saving rework takes a rejected task back to work: it may be handed in again.
        this.boot.can_submit = this.boot.is_assignee && data.state === "assigned";
      }
      const dirty = JSON.stringify(this.shapes) !== sent;
      this.setStatus(dirty ? "unsaved" : "saved");
      if (dirty) this.timer = window.setTimeout(() => void this.save(), AUTOSAVE_MS);
      this.refresh();
      return !dirty;
    } catch (e) {
      if (e instanceof ApiError && e.problem.code === "version_conflict") {
        this.showConflict(e.problem.current as Saved);
      } else if (e instanceof ApiError) {
        const errors = (e.problem.errors as { message: string }[] | undefined) ?? [];
        this.setStatus("error", e.problem.detail);
        this.say([e.problem.detail, ...errors.map((x) => x.message)].join(" "));
      } else {
        throw e;
      }
      return false;
    }
  }

  private showConflict(theirs: Saved): void {
    this.setStatus("conflict");
    const when = theirs.updated_at ? new Date(theirs.updated_at).toLocaleString() : "just now";
    const counts = theirs.shapes.reduce<Record<string, number>>((acc, s) => {
      const key = describe(s); acc[key] = (acc[key] ?? 0) + 1; return acc; }, {});
    replace(this.el.conflict,
      h("h2", {}, "Someone else saved this task"),
      h("p", {}, `${theirs.updated_by ?? "Someone"} saved version ${theirs.version} (${when}) while you were editing. `,
        "Your changes are not saved. Their version has:"),
      h("ul", {}, Object.entries(counts).map(([k, n]) => h("li", {}, `${n} × ${k}`))),
      theirs.shapes.length ? null : h("p", {}, "no shapes."),
      h("div", { class: "row" },
        h("button", { type: "button", "data-action": "reload", onclick: () => this.takeTheirs(theirs) }, "Load their version"),
        h("button", { type: "button", "data-action": "keep-mine", onclick: () => void this.keepMine(theirs) }, "Save mine over theirs")));
    this.el.conflict.hidden = false;
  }

  private takeTheirs(theirs: Saved): void {
    this.shapes = theirs.shapes;
    this.version = theirs.version;
    this.history.clear();
    this.selected = null;
    this.el.conflict.hidden = true;
    this.setStatus("saved");
    this.refresh();
  }

  private async keepMine(theirs: Saved): Promise<void> {
    this.version = theirs.version;
    this.el.conflict.hidden = true;
    this.setStatus("unsaved");
    await this.save();
  }

  async submit(): Promise<void> {
    if (!this.boot.can_submit) return;
    if (!(await this.save())) return;
    try {
      await call("POST", `/tasks/${this.boot.task.id}/submit`, { version: this.version });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const missing = (e.problem.missing as { attribute: string }[] | undefined) ?? [];
      this.say([e.problem.detail, ...missing.map((m) => `Missing: ${m.attribute}.`)].join(" "));
      return;
    }
    this.boot.can_submit = false;
    this.boot.can_edit = false;
    await this.next();
  }

  async next(): Promise<void> {
    if (this.boot.can_edit && !(await this.save())) return;
    const { data } = await call<{ task: { id: number } | null }>(
      "GET", `/projects/${this.boot.task.project}/tasks/next?after=${this.boot.task.id}`);
    window.location.assign(data.task ? `/tasks/${data.task.id}` : `${this.boot.queue_url}?done=1`);
  }

  private openEscalate(): void {
    (this.el.escalate as HTMLDialogElement).showModal();
  }

  private async suggestRedactions(): Promise<void> {
    const button = this.el.suggest as HTMLButtonElement;
    button.disabled = true;
    this.say("Looking for faces and text on this server…");
    try {
      const { data: found } = await call<{ items: { model: string; shapes: Boot["predictions"] }[] }>(
        "POST", `/tasks/${this.boot.task.id}/suggest-redactions`);
      const shapes = found.items.flatMap((p) => p.shapes.map((s) => ({ ...s, model: p.model })));
      this.suggestions = [...this.suggestions, ...shapes];
      this.say(shapes.length ? `${shapes.length} redaction suggestion(s): accept or dismiss them.`
        : "No faces or text found.");
      this.refresh();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      this.say(e.problem.detail);
    } finally {
      button.disabled = !this.boot.can_edit;
    }
  }

  private async escalate(reason: string, note: string): Promise<boolean> {
    if (this.boot.can_edit && !(await this.save())) return false; // frozen once escalated
    try {
      await call("POST", `/tasks/${this.boot.task.id}/escalate`, { reason, note });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      this.say(e.problem.detail);
      return false;
    }
    this.state = "escalated";
    this.boot.can_submit = false;
    this.boot.can_escalate = false;
    if (this.boot.is_assignee) {
      this.boot.can_edit = false;
      this.canvas.setReadOnly(true);
      this.setStatus("readonly");
    }
    this.say("Escalated: the task waits for an owner or reviewer to decide.");
    this.refresh();
    return true;
  }

  // -- keyboard --------------------------------------------------------------------------

  private key(e: KeyboardEvent): void {
    const typing = (e.target as HTMLElement).closest("input, textarea, select, dialog");
    const ctrl = e.ctrlKey || e.metaKey;
    const k = e.key.toLowerCase();
    if (ctrl && k === "s") { e.preventDefault(); void this.save(); return; }
    if (typing) return;
    // Enter and Space on a focused button press that button, nothing more.
    if ((e.key === "Enter" || e.key === " ") && (e.target as HTMLElement).closest("button, a")) return;
    if (ctrl && k === "z") { e.preventDefault(); this.undo(e.shiftKey); return; }
    if (ctrl && k === "y") { e.preventDefault(); this.undo(true); return; }
    if (ctrl || e.altKey) return;
    if (/^[1-9]$/.test(e.key)) { this.pickLabel(Number(e.key) - 1); return; }
    switch (e.key) {
      case "Enter":
        e.preventDefault();
        if (this.canvas.drawingPolygon) this.canvas.closePolygon(); else void this.submit();
        return;
      case "Escape":
        if (this.canvas.drawingPolygon) this.canvas.cancelDrawing(); else this.setTool("select");
        return;
      case "Delete": case "Backspace": e.preventDefault(); this.remove(); return;
      case "?": (this.el.help as HTMLDialogElement).showModal(); return;
      case "+": case "=": this.canvas.zoomBy(1.25); this.refresh(); return;
      case "-": this.canvas.zoomBy(0.8); this.refresh(); return;
    }
    const tools: Record<string, Tool> = { b: "bbox", p: "polygon", r: "redaction", v: "select" };
    if (tools[k] && (this.boot.can_edit || k === "v")) { this.setTool(tools[k]); return; }
    if (k === "n") void this.next();
    if (k === "f") { this.canvas.fit(); this.refresh(); }
  }
}

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`The image could not be loaded from ${url}.`));
    image.src = url;
  });
}

const root = document.getElementById("editor");
const data = document.getElementById("editor-data");
if (root && data) {
  const editor = new Editor(JSON.parse(data.textContent ?? "{}") as Boot, root);
  editor.start().catch((e: Error) => {
    root.dataset.ready = "error";
    root.prepend(h("p", { class: "message", role: "alert" }, `The editor could not start: ${e.message}`));
  });
}
