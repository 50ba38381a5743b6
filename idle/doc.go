// Package idle keeps, per backend, how long a pooled keep-alive connection
// may sit idle before the client must close it, so that the client always
// closes first and never reuses a connection the backend is closing.
//
// The effective limit of a backend is
//
//	min(configured, advertised, observed) x ratio
//
// clamped to [Floor, Ceiling]. Configured limits come from the caller;
// advertised ones from Keep-Alive: timeout=N, max=M response headers
// (Node.js, Apache, S3, nginx with its second keepalive_timeout parameter);
// observed ones from connections the backend closed while idle, whose idle
// time is an upper bound on the backend's timeout, except closes that
// reveal a restart (RestartWindow). Observations expire after a TTL so that
// a limit can rise again when a backend is reconfigured.
//
// HTTP/1.1 connections are persistent by default, so no Connection:
// keep-alive request header is added: Apache 2.4 advertises Keep-Alive on
// persistent HTTP/1.1 responses without it, and servers that stay silent
// are learned by observation.
package idle
