/** Public API of components/rpc: Hono blocks over NATS, HTTP and in-process, with fencing and heartbeats. */
export { type BlockOptions, createBlock, errorFrom, replyError } from "./block.ts";
export {
  ChannelCanceledError,
  type ChannelReceiver,
  type ChannelSender,
  ChannelSequenceError,
  type ReceiverStats,
  type SenderStats,
} from "./channel.ts";
export { batchFrameEncoder, channelSubjects } from "./channel_frames.ts";
export { type LocalChannelOptions, localChannel } from "./channel_local.ts";
export {
  type ChannelConnection,
  type ChannelMsg,
  type ChannelSubscription,
  type NatsChannelReceiverOptions,
  type NatsChannelSenderOptions,
  natsChannelReceiver,
  natsChannelSender,
} from "./channel_nats.ts";
export {
  type Answered,
  type ClientOptions,
  callAll,
  createClient,
  type RpcClient,
  RpcResponse,
  send,
  unwrap,
} from "./client.ts";
export { type CallDeadlines, callDeadlinesFrom } from "./deadlines.ts";
export {
  DEADLINE_HEADER,
  decodeReply,
  decodeRequest,
  ENVELOPE_LIMITS,
  encodeReply,
  encodeRequest,
  type HeaderMap,
  type ReplyEnvelope,
  type RequestEnvelope,
} from "./envelope.ts";
export {
  FENCING_HEADER,
  FencingTokens,
  type FencingTokensOptions,
  type FencingTokenVerifier,
  fencing,
  fencingHeaders,
} from "./fencing.ts";
export { HeartbeatMonitor, type HeartbeatOptions } from "./heartbeat.ts";
export { type HttpTransportOptions, httpTransport } from "./http_transport.ts";
export { dispatch, localTransport } from "./local_transport.ts";
export {
  mapNatsError,
  type NatsTransportOptions,
  NoRespondersError,
  natsTransport,
} from "./nats_transport.ts";
export {
  type RejectionLogOptions,
  Rejections,
  rejected,
  rejectionLabel,
  rejectionMetrics,
  rejections,
} from "./rejections.ts";
export { EnvelopeRequest, toRequest } from "./request.ts";
export { negotiate, reply, toReplyEnvelope, ValueResponse } from "./response.ts";
export { type HttpServeOptions, type HttpServer, serveHttp } from "./serve_http.ts";
export { type NatsServeOptions, type NatsServer, serveNats } from "./serve_nats.ts";
export type { FetchApp, Transport } from "./transport.ts";
export {
  type BodyOptions,
  body,
  DEFAULT_BODY_LIMIT_BYTES,
  params,
  query,
  readBodyBytes,
} from "./validate.ts";
