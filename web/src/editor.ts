// The rule editor: CodeMirror 6 with YAML highlighting, and the compiler's messages shown at the
// end of the line they are about.
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { yaml } from "@codemirror/lang-yaml";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { EditorState, StateEffect, StateField, type Range } from "@codemirror/state";
import { Decoration, EditorView, keymap, lineNumbers, WidgetType, type DecorationSet } from "@codemirror/view";

export interface Problem {
  line: number; // 1-based
  message: string;
}

class MessageWidget extends WidgetType {
  constructor(readonly message: string) {
    super();
  }
  eq(other: MessageWidget): boolean {
    return other.message === this.message;
  }
  toDOM(): HTMLElement {
    const span = document.createElement("span");
    span.className = "cm-problem";
    span.setAttribute("data-testid", "compiler-message");
    span.textContent = `⚠ ${this.message}`;
    return span;
  }
}

const setProblems = StateEffect.define<Problem[]>();

const problemField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(decorations, tr) {
    decorations = decorations.map(tr.changes);
    for (const effect of tr.effects) {
      if (!effect.is(setProblems)) continue;
      const ranges: Range<Decoration>[] = [];
      for (const problem of effect.value) {
        const line = tr.state.doc.line(Math.min(Math.max(problem.line, 1), tr.state.doc.lines));
        ranges.push(Decoration.line({ class: "cm-problem-line" }).range(line.from));
        ranges.push(Decoration.widget({ widget: new MessageWidget(problem.message), side: 1 }).range(line.to));
      }
      decorations = Decoration.set(ranges, true);
    }
    return decorations;
  },
  provide: (field) => EditorView.decorations.from(field),
});

export function createEditor(parent: HTMLElement, doc: string, onChange: (text: string) => void, readOnly = false): EditorView {
  return new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        lineNumbers(),
        history(),
        indentOnInput(),
        bracketMatching(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        yaml(),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        problemField,
        EditorState.readOnly.of(readOnly),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) onChange(update.state.doc.toString());
        }),
      ],
    }),
  });
}

export function showProblems(view: EditorView, problems: Problem[]): void {
  view.dispatch({ effects: setProblems.of(problems) });
}

export function setText(view: EditorView, text: string): void {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}

/**
 * The line a compiler message is about. The API may say (`line`); YAML errors carry "line N";
 * otherwise the message quotes the rule id and the offending token ('valu_eth', {name}), which
 * are looked up in the text: the token's first line inside that rule, else the rule's id line.
 */
export function locate(source: string, message: string, line?: number | null): number {
  if (line) return line;
  const yamlLine = /line (\d+)/.exec(message);
  if (yamlLine) return Number(yamlLine[1]);
  const lines = source.split("\n");
  const ruleId = /rule '([^']+)'/.exec(message)?.[1];
  let start = 0;
  if (ruleId) {
    const at = lines.findIndex((l) => new RegExp(`\\bid:\\s*['"]?${escape(ruleId)}['"]?\\s*$`).test(l));
    if (at >= 0) start = at;
  }
  const detail = ruleId ? message.slice(message.indexOf(`'${ruleId}'`) + ruleId.length + 2) : message;
  const tokens = [...detail.matchAll(/'([^']+)'|\{([^}]+)\}/g)].map((m) => m[1] ?? m[2]);
  for (const token of tokens) {
    for (let i = start; i < lines.length; i++) {
      if (i > start && /^\s*-\s*id:/.test(lines[i])) break;
      if (lines[i].includes(token)) return i + 1;
    }
  }
  return start + 1;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
