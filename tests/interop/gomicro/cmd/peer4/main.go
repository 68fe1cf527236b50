// Command peer4 is the interop peer on go-micro v4 with its gRPC server and
// client plugins and its Consul, etcd and mDNS registries (see package peer).
package main

import (
	"context"
	"encoding/json"

	grpccli "github.com/go-micro/plugins/v4/client/grpc"
	"github.com/go-micro/plugins/v4/registry/consul"
	"github.com/go-micro/plugins/v4/registry/etcd"
	grpcsrv "github.com/go-micro/plugins/v4/server/grpc"
	micro "go-micro.dev/v4"
	"go-micro.dev/v4/client"
	"go-micro.dev/v4/errors"
	"go-micro.dev/v4/registry"
	"go-micro.dev/v4/server"

	pb "github.com/micro-cpp/tests/gomicro/greeterpb"
	"github.com/micro-cpp/tests/gomicro/peer"
)

func newRegistry(o peer.Options) registry.Registry {
	var addrs []registry.Option
	if o.RegistryAddress != "" {
		addrs = append(addrs, registry.Addrs(o.RegistryAddress))
	}
	switch o.Registry {
	case "consul":
		if o.TCPCheck > 0 {
			addrs = append(addrs, consul.TCPCheck(o.TCPCheck))
		}
		return consul.NewRegistry(addrs...)
	case "etcd":
		return etcd.NewRegistry(addrs...)
	case "memory": // this process only: benchmarks, no traffic beyond the served port
		return registry.NewMemoryRegistry()
	}
	return registry.NewRegistry(addrs...)
}

func newClient(o peer.Options) client.Client {
	opts := []client.Option{client.Registry(newRegistry(o)), client.RequestTimeout(o.Timeout),
		client.ContentType(o.ContentType)}
	if cfg, err := o.TLSConfig(); err != nil {
		panic(err)
	} else if cfg != nil {
		opts = append(opts, grpccli.AuthTLS(cfg))
	}
	return grpccli.NewClient(opts...)
}

func newServer(o peer.Options) server.Server {
	var opts []server.Option
	if cfg, err := o.TLSConfig(); err != nil {
		panic(err)
	} else if cfg != nil {
		opts = append(opts, grpcsrv.AuthTLS(cfg))
	}
	return grpcsrv.NewServer(opts...)
}

func main() {
	peer.Main(peer.Micro{
		Version: "go-micro v4",
		Serve: func(o peer.Options, g *peer.Greeter, ready func()) error {
			s := micro.NewService(micro.Server(newServer(o)), micro.Client(newClient(o)),
				micro.Registry(newRegistry(o)), micro.Name(o.Name), micro.Address(o.Address),
				micro.RegisterTTL(o.TTL), micro.RegisterInterval(o.Interval),
				micro.Metadata(map[string]string{"lang": "go"}),
				micro.AfterStart(func() error { ready(); return nil }))
			if o.ID != "" {
				s.Server().Init(server.Id(o.ID))
			}
			if err := micro.RegisterHandler(s.Server(), &Greeter{g}); err != nil {
				return err
			}
			return s.Run()
		},
		Call: func(o peer.Options, service, endpoint string, req *pb.Request, rsp *pb.Response) error {
			c := newClient(o)
			return c.Call(context.Background(), c.NewRequest(service, endpoint, req), rsp)
		},
		Lookup: func(o peer.Options, service string) ([]byte, error) {
			s, err := newRegistry(o).GetService(service)
			if err != nil {
				return nil, err
			}
			return json.Marshal(s)
		},
		Watch: func(o peer.Options, service string, event func(action, id string) bool) error {
			w, err := newRegistry(o).Watch(registry.WatchService(service))
			if err != nil {
				return err
			}
			for {
				r, err := w.Next()
				if err != nil {
					return err
				}
				for _, n := range r.Service.Nodes {
					if !event(r.Action, n.Id) {
						return nil
					}
				}
			}
		},
		Error: func(id, detail string, code int32) error { return errors.New(id, detail, code) },
		Stream: func(o peer.Options, service, endpoint string) (peer.ClientStream, error) {
			c := newClient(o)
			return c.Stream(context.Background(), c.NewRequest(service, endpoint, &pb.StreamRequest{}))
		},
	})
}

// Greeter is peer.Greeter with go-micro's stream signatures (the handler's name is the type's).
// Only these four methods: go-micro registers every exported method of the handler.
type Greeter struct{ g *peer.Greeter }

func (g *Greeter) Hello(ctx context.Context, req *pb.Request, rsp *pb.Response) error {
	return g.g.Hello(ctx, req, rsp)
}

func (g *Greeter) Stream(ctx context.Context, s server.Stream) error {
	return g.g.ServeStream(ctx, s)
}

func (g *Greeter) Collect(ctx context.Context, s server.Stream) error {
	return g.g.ServeCollect(ctx, s)
}

func (g *Greeter) Chat(ctx context.Context, s server.Stream) error {
	return g.g.ServeChat(ctx, s)
}
