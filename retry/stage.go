package retry

// Stage is how far one attempt got before it ended. Stages are ordered: a
// later stage means more of the exchange happened, so less can be assumed
// about what the server did. Only byte counts and the protocol decide it,
// never an error's text.
type Stage uint8

const (
	// StageNotConnected means no connection was obtained: the dial failed or
	// the context ended first. No byte can have reached the server.
	StageNotConnected Stage = iota
	// StageNothingWritten means a connection was obtained but no byte of the
	// request was written to it.
	StageNothingWritten
	// StageHeadersWritten means part of the request (at least some header
	// bytes) was written, but not all of it, and no response byte arrived.
	StageHeadersWritten
	// StageRequestWritten means the whole request was written and no response
	// byte arrived.
	StageRequestWritten
	// StageResponseStarted means response bytes arrived but no complete,
	// valid response header did.
	StageResponseStarted
	// StageHeadersReceived means the response headers arrived; the failure
	// happened while the body was read.
	StageHeadersReceived
)

var stageNames = [...]string{
	StageNotConnected:    "not_connected",
	StageNothingWritten:  "nothing_written",
	StageHeadersWritten:  "headers_written",
	StageRequestWritten:  "request_written",
	StageResponseStarted: "response_started",
	StageHeadersReceived: "headers_received",
}

// String returns the stage's snake_case name, suitable as a metric label.
func (s Stage) String() string {
	if int(s) < len(stageNames) {
		return stageNames[s]
	}
	return "unknown"
}

// MayHaveReachedServer reports whether any byte of the request may have
// been delivered to the server at this stage.
func (s Stage) MayHaveReachedServer() bool { return s >= StageHeadersWritten }
