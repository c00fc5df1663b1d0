/**
 * The handshake every Prefect websocket shares (server/utilities/subscriptions.py
 * accept_prefect_socket). A client that offers the `prefect` subprotocol gets it
 * back and must first send `{"type": "auth", "token": ...}`, answered with
 * `{"type": "auth_success"}`. With PREFECT_SERVER_API_AUTH_STRING set, the token must be
 * that string (a missing or wrong one closes with 1008) and a client that offers no
 * subprotocol is refused (1002); without it any token is accepted and an older client that
 * offers no subprotocol is accepted without the handshake.
 */
import type { Context } from "elysia";
import { isJsonObject } from "../lib/json";
import { secretMatches } from "./auth";

const PROTOCOL = "prefect";

/** WS close codes Prefect uses. */
export const WS_GOING_AWAY = 1001;
export const WS_PROTOCOL_ERROR = 1002;
const WS_POLICY_VIOLATION = 1008;

/** The part of a server websocket these routes use. */
export interface SocketLike {
  send(data: string): unknown;
  close(code?: number, reason?: string): void;
}

export const offersPrefect = (request: Request) =>
  (request.headers.get("sec-websocket-protocol") ?? "").split(",").some((protocol) => protocol.trim() === PROTOCOL);

/** The `upgrade` hook of a Prefect websocket route: echoes the subprotocol when offered. */
export function acceptSubprotocol({ request, set }: Pick<Context, "request" | "set">): void {
  if (offersPrefect(request)) set.headers["sec-websocket-protocol"] = PROTOCOL;
}

export const sendJson = (socket: SocketLike, message: unknown) => socket.send(JSON.stringify(message));

/** One connection's progress through the handshake. */
export class Handshake {
  private done: boolean;

  /** `failureReason`: the close reason of every failed handshake, where a route has its own (the worker channel's). */
  constructor(
    private readonly request: Request,
    private readonly authString: string | null,
    private readonly failureReason?: string,
  ) {
    this.done = !offersPrefect(request); // legacy clients skip it
  }

  /** Called when the socket opens: refuses a legacy client when auth is configured. */
  open(socket: SocketLike): void {
    if (this.authString !== null && !offersPrefect(this.request)) {
      socket.close(WS_PROTOCOL_ERROR, "'prefect' subprotocol required when auth is configured");
    }
  }

  /** Handles `message` if it belongs to the handshake (closing the socket if it is wrong); false once authenticated. */
  consume(socket: SocketLike, message: unknown): boolean {
    if (this.done) return false;
    if (!isJsonObject(message) || message.type !== "auth") {
      socket.close(WS_POLICY_VIOLATION, this.failureReason ?? "Expected 'auth' message");
      return true;
    }
    if (this.authString !== null) {
      const token = message.token;
      if (typeof token !== "string" || token === "") {
        socket.close(WS_POLICY_VIOLATION, this.failureReason ?? "Auth required but no token provided");
        return true;
      }
      if (!secretMatches(token, this.authString)) {
        socket.close(WS_POLICY_VIOLATION, this.failureReason ?? "Invalid token");
        return true;
      }
    }
    this.done = true;
    sendJson(socket, { type: "auth_success" });
    return true;
  }
}
