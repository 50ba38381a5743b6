package transport

import (
	"testing"
	"time"
)

func TestHTTP2HealthCheckDefaults(t *testing.T) {
	rt := New()
	if rt.http2 == nil {
		t.Skip("HTTP/2 not configured on the default base")
	}
	if got := rt.base.HTTP2; got == nil || got.SendPingTimeout != 15*time.Second || got.PingTimeout != 5*time.Second {
		t.Fatalf("HTTP2 config = %+v, want 15s/5s pings", got)
	}
	rt = New(WithHTTP2HealthCheck(time.Second, 2*time.Second))
	if got := rt.base.HTTP2; got.SendPingTimeout != time.Second || got.PingTimeout != 2*time.Second {
		t.Fatalf("HTTP2 config = %+v, want 1s/2s", got)
	}
}
