// Command gofixtures writes registry JSON and hex(zlib) vectors produced by
// go-micro's own types and Go's encoders, for micro-cpp's byte-compatibility
// tests. Usage: go run . <output dir>
package main

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"
	"go-micro.dev/v4/registry"
	"go-micro.dev/v4/util/mdns"
)

// mdnsTxt is go-micro v4.11's TXT payload (registry/mdns_registry.go; unexported there).
type mdnsTxt struct {
	Metadata  map[string]string
	Service   string
	Version   string
	Endpoints []*registry.Endpoint
}

// txtStrings is go-micro's encode(): hex(zlib(JSON)) in strings of at most 255 characters.
func txtStrings(t *mdnsTxt) []string {
	b, err := json.Marshal(t)
	must(err)
	encoded := encode(b)
	var out []string
	for len(encoded) > 255 {
		out = append(out, encoded[:255])
		encoded = encoded[255:]
	}
	return append(out, encoded)
}

// encode is what go-micro's consul plugin does to a tag payload.
func encode(buf []byte) string {
	var b bytes.Buffer
	defer b.Reset()
	w := zlib.NewWriter(&b)
	if _, err := w.Write(buf); err != nil {
		return ""
	}
	w.Close()
	return hex.EncodeToString(b.Bytes())
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func write(dir, name string, data []byte) {
	must(os.WriteFile(filepath.Join(dir, name), data, 0o644))
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gofixtures <output dir>")
		os.Exit(2)
	}
	dir := os.Args[1]
	must(os.MkdirAll(dir, 0o755))

	hello := &registry.Endpoint{
		Name: "Greeter.Hello",
		Request: &registry.Value{Name: "Request", Type: "Request", Values: []*registry.Value{
			{Name: "name", Type: "string"},
			{Name: "tags", Type: "Tags", Values: []*registry.Value{{Name: "key", Type: "string"}}},
		}},
		Response: &registry.Value{Name: "Response", Type: "Response", Values: []*registry.Value{
			{Name: "msg", Type: "string"},
		}},
	}
	stream := &registry.Endpoint{
		Name:     "Greeter.Stream",
		Request:  &registry.Value{Name: "StreamRequest", Type: "StreamRequest"},
		Response: &registry.Value{Name: "StreamResponse", Type: "StreamResponse"},
		Metadata: map[string]string{"stream": "true"},
	}
	node := func(id, addr string) *registry.Node {
		return &registry.Node{Id: id, Address: addr, Metadata: map[string]string{
			"broker": "http", "protocol": "grpc", "registry": "mdns", "server": "grpc", "transport": "grpc",
		}}
	}
	cases := map[string]*registry.Service{
		"greeter.json": {
			Name: "helloworld", Version: "latest",
			Endpoints: []*registry.Endpoint{hello, stream},
			Nodes:     []*registry.Node{node("helloworld-7f8a1c1e-0b1d-4c3e-9a53-2c3f0d6e1b7a", "10.0.0.7:41231")},
		},
		"two_nodes.json": {
			Name: "go.micro.srv.geo", Version: "1.2.0", Metadata: map[string]string{"team": "maps", "zone": "eu-1"},
			Nodes: []*registry.Node{
				node("go.micro.srv.geo-1", "127.0.0.1:50051"),
				node("go.micro.srv.geo-2", "[::1]:50052"),
			},
		},
		"minimal.json": {Name: "bare"},
		"escapes.json": {
			Name: "esc<a>&b", Version: "\"q\"\\\n\r\t\b\f\x01\x1f\x7f",
			Metadata: map[string]string{"unicode": "héllo \u2028 \u2029 ✓ 𝄞", "bad": "\xff\xfe ok \xc3"},
			Nodes:    []*registry.Node{{Id: "n1", Address: "h:1"}},
		},
	}
	for name, svc := range cases {
		b, err := json.Marshal(svc)
		must(err)
		write(dir, name, b)
	}

	// Consul-style tags: encode(JSON) of node metadata, an endpoint, a version.
	md, _ := json.Marshal(node("x", "y").Metadata)
	ep, _ := json.Marshal(hello)
	var tags bytes.Buffer
	for _, plain := range [][]byte{md, ep, []byte("1.2.0"), []byte("")} {
		fmt.Fprintf(&tags, "%s %s\n", encode(plain), hex.EncodeToString(plain))
	}
	write(dir, "zlib_vectors.txt", tags.Bytes())

	// An mDNS announcement and a query as go-micro's mdns package builds them.
	txt := txtStrings(&mdnsTxt{
		Metadata:  node("x", "y").Metadata,
		Service:   "helloworld",
		Version:   "latest",
		Endpoints: []*registry.Endpoint{hello, stream},
	})
	zone, err := mdns.NewMDNSService("helloworld-7f8a1c1e", "helloworld", "micro.", "testhost.", 50051,
		[]net.IP{net.ParseIP("127.0.0.1")}, txt)
	must(err)
	instance := "helloworld-7f8a1c1e.helloworld.micro."
	resp := new(dns.Msg)
	resp.Response = true
	resp.Authoritative = true
	resp.Compress = true
	resp.Answer = append(zone.Records(dns.Question{Name: "helloworld.micro.", Qtype: dns.TypePTR, Qclass: dns.ClassINET}))
	packed, err := resp.Pack()
	must(err)
	write(dir, "mdns_announce.bin", packed)
	if !strings.HasPrefix(resp.Answer[0].(*dns.PTR).Ptr, instance) {
		must(fmt.Errorf("unexpected PTR %v", resp.Answer[0]))
	}
	query := new(dns.Msg)
	query.SetQuestion("helloworld.micro.", dns.TypePTR)
	query.RecursionDesired = false
	query.Id = 0 // SetQuestion picks a random id; the fixture must not change
	packedQuery, err := query.Pack()
	must(err)
	write(dir, "mdns_query.bin", packedQuery)
}
