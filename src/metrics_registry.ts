/**
 * Prometheus metrics in general: counters and gauges, families of them by one
 * label, a registry that keeps them in order and renders them.
 *
 * Counting costs nothing worth measuring: every series is an object created
 * when its family is registered ({@linkcode Counter}, {@linkcode Gauge}), and
 * whoever counts holds it and adds to its `value`. No name, label or map is
 * touched until a scrape, when {@linkcode MetricsRegistry.render} writes the
 * Prometheus text exposition format (0.0.4) from headers and series names
 * built at registration. A gauge whose truth lives elsewhere (bytes queued
 * across every client) is read by a callback at scrape time instead.
 *
 * @module
 */

/** The content type of the Prometheus text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * One series' number. `sample`, when set, is read at scrape time instead of
 * `value`: for numbers kept by their owner (a byte count in the writer, the
 * bytes queued across all clients).
 */
abstract class Series {
  /** The number as counted; the hot path adds to it directly. */
  value = 0;
  /** Read at scrape time instead of `value` when set. */
  sample: (() => number) | null = null;

  /** The number a scrape shows. */
  read(): number {
    return this.sample === null ? this.value : this.sample();
  }
}

/** A number that only goes up (a count since the server started). */
export class Counter extends Series {
  /** Adds `by` (1 by default). */
  inc(by = 1): void {
    this.value += by;
  }
}

/** A number that goes up and down (clients online, bytes queued). */
export class Gauge extends Series {
  /** Sets the value. */
  set(value: number): void {
    this.value = value;
  }

  /** Adds `by` (1 by default). */
  inc(by = 1): void {
    this.value += by;
  }

  /** Takes away `by` (1 by default). */
  dec(by = 1): void {
    this.value -= by;
  }
}

/** A family's one label and the values it is known to take (each shown from the start, as 0). */
export interface LabelSet<V extends string> {
  /** The label's name, as `frontend` in `clients_online{frontend="irc"}`. */
  name: string;
  /** Its values; more may be added later with {@linkcode Family.labels}. */
  values: readonly V[];
}

/**
 * The series of one labelled metric, one per label value. `of` holds the
 * declared ones, to be taken once and kept (`const online = family.of.line`);
 * {@linkcode labels} finds or adds one by value, for paths that run once per
 * connection rather than once per message.
 */
export class Family<S extends Counter | Gauge, V extends string> {
  /** The series of each declared label value. */
  readonly of: Readonly<Record<V, S>>;
  readonly #entry: Entry;
  readonly #make: () => S;

  /** @internal Created by {@linkcode MetricsRegistry.counter} and {@linkcode MetricsRegistry.gauge}. */
  constructor(entry: Entry, label: LabelSet<V>, make: () => S) {
    this.#entry = entry;
    this.#make = make;
    const of = {} as Record<V, S>;
    for (const value of label.values) {
      if (Object.hasOwn(of, value)) {
        throw new TypeError(`metric ${entry.name}: label value "${value}" given twice`);
      }
      of[value] = this.#add(value);
    }
    this.of = of;
  }

  /** The series for label value `value`, added (from 0) if it is not there yet. */
  labels(value: string): S {
    const known = this.#entry.byValue.get(value);
    return known === undefined ? this.#add(value) : known as S;
  }

  #add(value: string): S {
    const entry = this.#entry;
    const series = this.#make();
    entry.series.push({
      prefix: `${entry.name}{${entry.labelName}="${escapeLabelValue(value)}"} `,
      series,
    });
    entry.byValue.set(value, series);
    return series;
  }
}

/** A registered family as rendered: its header and its series, each with its name and labels. */
interface Entry {
  name: string;
  header: string;
  labelName: string;
  series: { prefix: string; series: Series }[];
  byValue: Map<string, Series>;
}

/** What {@linkcode serveMetrics} shows: anything that renders the text format. */
export interface MetricsSource {
  /** The exposition text, ending with a newline. */
  render(): string;
}

/**
 * Metric families by name, in the order they were registered, and their
 * rendering in the Prometheus text format. Names are checked when they are
 * registered (valid, unique, counters ending in `_total`), so rendering
 * cannot produce what Prometheus refuses.
 */
export class MetricsRegistry implements MetricsSource {
  readonly #entries: Entry[] = [];
  readonly #names = new Set<string>();

  /** A counter without labels (`name` ends in `_total`). */
  counter(name: string, help: string): Counter;
  /** A counter with one label, a series per value. */
  counter<V extends string>(name: string, help: string, label: LabelSet<V>): Family<Counter, V>;
  counter<V extends string>(
    name: string,
    help: string,
    label?: LabelSet<V>,
  ): Counter | Family<Counter, V> {
    if (!name.endsWith("_total")) {
      throw new TypeError(`metric ${name}: a counter's name ends in _total`);
    }
    return this.#register(name, help, "counter", label, () => new Counter());
  }

  /** A gauge without labels. */
  gauge(name: string, help: string): Gauge;
  /** A gauge with one label, a series per value. */
  gauge<V extends string>(name: string, help: string, label: LabelSet<V>): Family<Gauge, V>;
  gauge<V extends string>(
    name: string,
    help: string,
    label?: LabelSet<V>,
  ): Gauge | Family<Gauge, V> {
    return this.#register(name, help, "gauge", label, () => new Gauge());
  }

  /**
   * Every family in the text exposition format: `# HELP`, `# TYPE`, then its
   * series, one family after another, ending with a newline. A `sample`
   * callback that throws fails the whole rendering (a scrape answers 500
   * rather than a partial page).
   */
  render(): string {
    let text = "";
    for (const entry of this.#entries) {
      text += entry.header;
      for (const { prefix, series } of entry.series) {
        text += prefix + formatValue(series.read()) + "\n";
      }
    }
    return text;
  }

  #register<S extends Counter | Gauge, V extends string>(
    name: string,
    help: string,
    type: "counter" | "gauge",
    label: LabelSet<V> | undefined,
    make: () => S,
  ): S | Family<S, V> {
    if (!METRIC_NAME.test(name)) throw new TypeError(`metric name "${name}" is not valid`);
    if (this.#names.has(name)) throw new TypeError(`metric ${name} is registered twice`);
    if (label && (!LABEL_NAME.test(label.name) || label.name.startsWith("__"))) {
      throw new TypeError(`metric ${name}: label name "${label.name}" is not valid`);
    }
    const entry: Entry = {
      name,
      header: `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`,
      labelName: label?.name ?? "",
      series: [],
      byValue: new Map(),
    };
    let result: S | Family<S, V>;
    if (label) {
      result = new Family(entry, label, make);
    } else {
      result = make();
      entry.series.push({ prefix: `${name} `, series: result });
    }
    this.#names.add(name);
    this.#entries.push(entry);
    return result;
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value in quotes: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : "\\" + c);
}

/** Help text: backslash and line feed escaped. */
function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

/** A sample value as Prometheus reads it (`NaN`, `+Inf`, `-Inf`, or a JavaScript number). */
export function formatValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  if (Number.isNaN(value)) return "NaN";
  return value > 0 ? "+Inf" : "-Inf";
}
