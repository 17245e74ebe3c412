/**
 * The line front end as the server registers it: what a connection is when
 * no other front end recognises it (nc, telnet, `parley client`), served by
 * a {@linkcode LineSession}, refusals as `!!!` lines.
 *
 * @module
 */

import { encodeLine, errorLine } from "../../protocol/line.ts";
import type { FrontEnd } from "../front_end.ts";
import { LineSession } from "./session.ts";

/** The line front end. It recognises nothing: it takes what nobody else does. */
export const lineFrontEnd: FrontEnd = {
  name: "line",
  counted: "line",
  recognise: () => "no",
  serve: (connection, context, first) => new LineSession(connection, { ...context, first }),
  refusal: (text) => encodeLine(errorLine(text)),
};
