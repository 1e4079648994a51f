package engagement

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A tenant cannot point the platform at its own network: a URL naming a
// loopback, private or link-local address is refused, naming the field,
// and a delivery does not connect to such an address whatever name led it
// there. A developer's setting allows them.
func TestWebhooksStayOffPrivateNetworks(t *testing.T) {
	w := &Webhooks{}
	for _, raw := range []string{
		"https://10.1.2.3/hook", "https://172.16.0.9/hook", "https://192.168.1.1/hook", "https://169.254.169.254/latest",
		"https://[::1]/hook", "https://[fd00::1]/hook", "https://100.64.0.1/hook", "https://0.0.0.0/hook",
		"http://localhost:9000/hook", "http://127.0.0.1:9000/hook", "https://[::ffff:10.0.0.1]/hook",
	} {
		err := w.validURL(raw)
		if err == nil || !strings.Contains(err.Error(), "endpoint.url") {
			t.Errorf("validURL(%s) = %v, want an error naming endpoint.url", raw, err)
		}
	}
	for _, raw := range []string{"https://example.com/hook", "https://93.184.216.34/hook", "https://[2606:4700::1111]/hook"} {
		if err := w.validURL(raw); err != nil {
			t.Errorf("validURL(%s) = %v, want accepted", raw, err)
		}
	}
	if err := (&Webhooks{AllowPrivate: true}).validURL("http://127.0.0.1:9000/hook"); err != nil {
		t.Errorf("with private networks allowed: %v", err)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	// "localhost" passes no address check by name: the dial refuses it.
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	if resp, err := NewDeliveryWorker(&Webhooks{}).client.Post(url, "application/json", nil); err == nil || !strings.Contains(err.Error(), "refused") {
		if resp != nil {
			resp.Body.Close()
		}
		t.Fatalf("delivery to %s: %v, want refused", url, err)
	}
	resp, err := NewDeliveryWorker(&Webhooks{AllowPrivate: true}).client.Post(url, "application/json", nil)
	if err != nil {
		t.Fatalf("delivery with private networks allowed: %v", err)
	}
	resp.Body.Close()
}
