// Package peer is the part of the go-micro interop peer that does not depend
// on go-micro's major version: flags, the greeter handler and the commands.
// cmd/peer4 and cmd/peer5 bind it to go-micro v4 (with its plugins) and v5.
//
//	peer serve  [flags]                          serve helloworld.Greeter until SIGTERM; prints "ready", and "served N" after each call
//	peer call   [flags] SERVICE ENDPOINT NAME    one call; prints the answer's msg, or the error and exits 1
//	peer lookup [flags] SERVICE                  GetService as JSON
//	peer watch  [flags] SERVICE N                prints N watch events as "ACTION NODE-ID"
//
// Flags: -registry consul|etcd|mdns, -registry_address, -name, -id, -address,
// -ttl, -interval, -content_type, -timeout, and -tls_cert, -tls_key, -tls_ca for mutual TLS
// (the version's gRPC plugins' AuthTLS option, where it has them).
package peer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	pb "github.com/micro-cpp/tests/gomicro/greeterpb"
)

// Options are the command line.
type Options struct {
	Registry, RegistryAddress string
	Name, ID, Address         string
	TTL, Interval, Timeout    time.Duration
	ContentType               string
	TLSCert, TLSKey, TLSCA    string
	Args                      []string
}

// TLSConfig is the mutual TLS configuration the -tls_* flags describe, for a server (client
// certificates required, verified against the CA) and a client (the server verified against the
// CA, the certificate presented); nil without -tls_cert.
func (o Options) TLSConfig() (*tls.Config, error) {
	if o.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
	if err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(o.TLSCA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", o.TLSCA)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// Micro is what a go-micro major version supplies.
type Micro struct {
	Version string
	// Serve runs a service with g as its Greeter handler until SIGTERM; ready runs once registered.
	Serve func(o Options, g *Greeter, ready func()) error
	// Call calls service/endpoint with req through go-micro's gRPC client.
	Call func(o Options, service, endpoint string, req *pb.Request, rsp *pb.Response) error
	// Lookup returns GetService as JSON.
	Lookup func(o Options, service string) ([]byte, error)
	// Watch calls event for each watch event until it returns false.
	Watch func(o Options, service string, event func(action, id string) bool) error
	// Error makes a go-micro error of this version.
	Error func(id, detail string, code int32) error
}

// Greeter is helloworld.Greeter as go-micro serves it: "Hello NAME", a
// go-micro 400 for an empty name (as the C++ greeter), and for the name
// "deadline" the time left of the handler's context ("deadline 2987" ms, or
// "deadline none").
type Greeter struct {
	Served atomic.Int64
	err    func(id, detail string, code int32) error
}

func (g *Greeter) Hello(ctx context.Context, req *pb.Request, rsp *pb.Response) error {
	switch req.Name {
	case "":
		return g.err("helloworld", "name is required", 400)
	case "deadline":
		if d, ok := ctx.Deadline(); ok {
			rsp.Msg = fmt.Sprintf("deadline %d", time.Until(d).Milliseconds())
		} else {
			rsp.Msg = "deadline none"
		}
	default:
		rsp.Msg = "Hello " + req.Name
	}
	fmt.Println("served", g.Served.Add(1))
	return nil
}

// Main runs the command in os.Args with m.
func Main(m Micro) {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: peer serve|call|lookup|watch [flags] ...")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	var o Options
	fs.StringVar(&o.Registry, "registry", "mdns", "consul, etcd or mdns")
	fs.StringVar(&o.RegistryAddress, "registry_address", "", "host:port of the registry")
	fs.StringVar(&o.Name, "name", "helloworld", "service name")
	fs.StringVar(&o.ID, "id", "", "server id")
	fs.StringVar(&o.Address, "address", "127.0.0.1:0", "listen address")
	fs.DurationVar(&o.TTL, "ttl", 10*time.Second, "register TTL")
	fs.DurationVar(&o.Interval, "interval", 2*time.Second, "register interval")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Second, "call timeout")
	fs.StringVar(&o.ContentType, "content_type", "application/grpc+proto", "call content type")
	fs.StringVar(&o.TLSCert, "tls_cert", "", "certificate (PEM) for mutual TLS")
	fs.StringVar(&o.TLSKey, "tls_key", "", "its key (PEM)")
	fs.StringVar(&o.TLSCA, "tls_ca", "", "CA (PEM) peers are verified against")
	fs.Parse(os.Args[2:])
	o.Args = fs.Args()
	var err error
	switch os.Args[1] {
	case "serve":
		g := &Greeter{err: m.Error}
		err = m.Serve(o, g, func() { fmt.Println("ready", m.Version); os.Stdout.Sync() })
		fmt.Println("served", g.Served.Load())
	case "call":
		if len(o.Args) != 3 {
			os.Exit(2)
		}
		rsp := &pb.Response{}
		if err = m.Call(o, o.Args[0], o.Args[1], &pb.Request{Name: o.Args[2]}, rsp); err == nil {
			fmt.Println(rsp.Msg)
		}
	case "lookup":
		var b []byte
		if b, err = m.Lookup(o, o.Args[0]); err == nil {
			fmt.Println(string(b))
		}
	case "watch":
		var n int
		fmt.Sscan(o.Args[1], &n)
		fmt.Println("watching")
		err = m.Watch(o, o.Args[0], func(action, id string) bool {
			fmt.Println(action, id)
			n--
			return n > 0
		})
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Println(strings.TrimSpace(err.Error()))
		os.Exit(1)
	}
}
