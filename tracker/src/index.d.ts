/** Options of createTracker: the script tag's data-* attributes, camel-cased. */
export interface TrackerOptions {
  /** The project's write key (wk_...). */
  writeKey: string;
  /** The Threadline server's base URL; default: the page's origin. */
  host?: string;
  /** Store nothing in the browser; the server derives a daily visitor id. */
  cookieless?: boolean;
  /** Domains whose links carry the visitor over (subdomains included; host:port works). */
  crossDomain?: string[];
  /** Page views on load and on single-page-app navigation (default true). */
  autoPageview?: boolean;
  /** The cookie's domain: "" host only (default), "auto", or a domain. */
  cookieDomain?: string | null;
  /** Honour GPC / Do Not Track: true stops tracking; "cookieless" tracks cookieless. */
  respectDnt?: boolean | "cookieless";
  /** Console output and an in-page debug panel. */
  debug?: boolean;
  /** Milliseconds a message may wait to be batched (default 300). */
  flushInterval?: number;
  /** Messages per request (default 20). */
  batchSize?: number;
}

export type Properties = Record<string, unknown>;

/** The `threadline` object. No call ever throws. */
export interface Tracker {
  readonly version: string;
  page(name?: string | Properties, properties?: Properties): void;
  track(event: string, properties?: Properties): void;
  identify(userId?: string | number | Properties, traits?: Properties): void;
  group(groupId: string | number, traits?: Properties): void;
  alias(userId: string | number, previousId?: string): void;
  /** On logout: forget the user, start a new anonymous id. */
  reset(): void;
  optOut(): void;
  optIn(): void;
  /** `url` with the visitor's cross-domain parameter added. */
  linkTo(url: string): string;
  /** Resolves true once everything queued is delivered, false if a send failed. */
  flush(): Promise<boolean>;
  /** null in cookieless mode or when not tracking. */
  anonymousId(): string | null;
  userId(): string | null;
}

export declare const VERSION: string;
export declare function createTracker(options: TrackerOptions): Tracker;
export declare function uuid(): string;
