// Package peer is the part of the go-micro interop peer that does not depend
// on go-micro's major version: flags, the greeter handler and the commands.
// cmd/peer4 and cmd/peer5 bind it to go-micro v4 (with its plugins) and v5.
//
//	peer serve  [flags]                          serve helloworld.Greeter until SIGTERM; prints "ready", and "served N" after each call
//	peer call   [flags] SERVICE ENDPOINT NAME    one call; prints the answer's msg, or the error and exits 1
//	peer lookup [flags] SERVICE                  GetService as JSON
//	peer watch  [flags] SERVICE N                prints N watch events as "ACTION NODE-ID"
//	peer stream [flags] SERVICE KIND NAMES       a stream through go-micro's client: KIND stream (NAMES = "name count"),
//	                                             collect or chat (NAMES comma-separated); prints each answer, then "end"
//	                                             or the error (exit 1)
//
// Flags: -registry consul|etcd|mdns|memory, -registry_address, -name, -id, -address,
// -ttl, -interval, -content_type, -timeout, -tcp_check (v4's consul.TCPCheck), and -tls_cert, -tls_key, -tls_ca for mutual TLS
// (the version's gRPC plugins' AuthTLS option, where it has them).
package peer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
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
	TCPCheck                  time.Duration
	Quiet                     bool
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
	// Stream opens a stream to service/endpoint through go-micro's gRPC client.
	Stream func(o Options, service, endpoint string) (ClientStream, error)
}

// MsgStream is the part of a go-micro server stream the greeter's streaming methods use.
type MsgStream interface {
	Send(interface{}) error
	Recv(interface{}) error
}

// ClientStream is the part of a go-micro client stream the stream command uses.
type ClientStream interface {
	MsgStream
	CloseSend() error
	Close() error
}

// ServeStream is Greeter.Stream as the C++ greeter serves it: "Hello NAME i" for i = 1..count;
// for the name "fail", two messages and then a go-micro 409.
func (g *Greeter) ServeStream(ctx context.Context, s MsgStream) error {
	req := &pb.StreamRequest{}
	if err := s.Recv(req); err != nil {
		return err
	}
	for i := 1; i <= int(req.Count); i++ {
		if req.Name == "fail" && i == 3 {
			return g.err("helloworld", "failed after 2", 409)
		}
		if err := s.Send(&pb.Response{Msg: fmt.Sprintf("Hello %s %d", req.Name, i)}); err != nil {
			return err
		}
	}
	return nil
}

// ServeCollect is Greeter.Collect: "Hello A, B and C" for the names sent.
func (g *Greeter) ServeCollect(ctx context.Context, s MsgStream) error {
	var names []string
	for {
		req := &pb.Request{}
		err := s.Recv(req)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		names = append(names, req.Name)
	}
	if len(names) == 0 {
		return g.err("helloworld", "no names sent", 400)
	}
	msg := "Hello " + names[0]
	for i := 1; i < len(names); i++ {
		sep := ", "
		if i == len(names)-1 {
			sep = " and "
		}
		msg += sep + names[i]
	}
	return s.Send(&pb.Response{Msg: msg})
}

// ServeChat is Greeter.Chat: "Hello NAME" for each request; an empty name ends it with a 400.
func (g *Greeter) ServeChat(ctx context.Context, s MsgStream) error {
	for {
		req := &pb.Request{}
		err := s.Recv(req)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if req.Name == "" {
			return g.err("helloworld", "name is required", 400)
		}
		if err := s.Send(&pb.Response{Msg: "Hello " + req.Name}); err != nil {
			return err
		}
	}
}

// stream runs the stream command: see the package comment.
func stream(m Micro, o Options) error {
	service, kind, names := o.Args[0], o.Args[1], o.Args[2]
	endpoint := map[string]string{"stream": "Greeter.Stream", "collect": "Greeter.Collect",
		"chat": "Greeter.Chat"}[kind]
	if endpoint == "" {
		return fmt.Errorf("unknown stream kind %q", kind)
	}
	s, err := m.Stream(o, service, endpoint)
	if err != nil {
		return err
	}
	defer s.Close()
	recvAll := func() error {
		for {
			rsp := &pb.Response{}
			err := s.Recv(rsp)
			if errors.Is(err, io.EOF) {
				fmt.Println("end")
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Println(rsp.Msg)
		}
	}
	switch kind {
	case "stream":
		var name string
		var count int32
		fmt.Sscan(names, &name, &count)
		if err := s.Send(&pb.StreamRequest{Name: name, Count: count}); err != nil {
			return err
		}
		s.CloseSend()
		return recvAll()
	case "collect":
		for _, n := range strings.Split(names, ",") {
			if err := s.Send(&pb.Request{Name: n}); err != nil {
				return err
			}
		}
		s.CloseSend()
		return recvAll()
	default:
		for _, n := range strings.Split(names, ",") {
			if err := s.Send(&pb.Request{Name: n}); err != nil {
				return err
			}
			rsp := &pb.Response{}
			if err := s.Recv(rsp); err != nil {
				return err
			}
			fmt.Println(rsp.Msg)
		}
		s.CloseSend()
		return recvAll()
	}
}

// Greeter is helloworld.Greeter as go-micro serves it: "Hello NAME", a
// go-micro 400 for an empty name (as the C++ greeter), and for the name
// "deadline" the time left of the handler's context ("deadline 2987" ms, or
// "deadline none").
type Greeter struct {
	Served atomic.Int64
	Quiet  bool // no "served N" line per call (benchmarks)
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
	n := g.Served.Add(1)
	if !g.Quiet {
		fmt.Println("served", n)
	}
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
	fs.DurationVar(&o.TCPCheck, "tcp_check", 0, "consul: register with the plugin's TCPCheck at this interval (v4)")
	fs.StringVar(&o.ContentType, "content_type", "application/grpc+proto", "call content type")
	fs.StringVar(&o.TLSCert, "tls_cert", "", "certificate (PEM) for mutual TLS")
	fs.StringVar(&o.TLSKey, "tls_key", "", "its key (PEM)")
	fs.StringVar(&o.TLSCA, "tls_ca", "", "CA (PEM) peers are verified against")
	fs.BoolVar(&o.Quiet, "quiet", false, "serve: no \"served N\" line per call (benchmarks)")
	fs.Parse(os.Args[2:])
	o.Args = fs.Args()
	var err error
	switch os.Args[1] {
	case "serve":
		g := &Greeter{err: m.Error, Quiet: o.Quiet}
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
	case "stream":
		if len(o.Args) != 3 {
			os.Exit(2)
		}
		err = stream(m, o)
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
