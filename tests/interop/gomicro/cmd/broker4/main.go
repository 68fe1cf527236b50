// Command broker4 is the go-micro v4 side of the pub/sub interop tests: go-micro's HTTP broker
// (go-micro.dev/v4/broker), found through a real registry, or its NATS broker plugin
// (-broker nats -broker_address host:port), used the way go-micro services use them.
//
//	broker4 sub -topic T [-queue Q] [-typed] [flags]   print each message as a JSON line
//	broker4 pub -topic T [-count N] [-typed] [-content_type CT] [flags]
//
// -typed goes through micro.RegisterSubscriber / micro.NewEvent with the gRPC server and client
// plugins (messages: helloworld.Request, encoded by content type); without it the broker is used
// raw (JSON bodies). sub prints "ready" once subscribed, then {"header":{..},"name"|"body":..}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	natsbroker "github.com/go-micro/plugins/v4/broker/nats"
	grpccli "github.com/go-micro/plugins/v4/client/grpc"
	"github.com/go-micro/plugins/v4/registry/consul"
	grpcsrv "github.com/go-micro/plugins/v4/server/grpc"
	micro "go-micro.dev/v4"
	"go-micro.dev/v4/broker"
	"go-micro.dev/v4/client"
	"go-micro.dev/v4/metadata"
	"go-micro.dev/v4/registry"
	"go-micro.dev/v4/server"

	pb "github.com/micro-cpp/tests/gomicro/greeterpb"
)

var out sync.Mutex

func emit(v interface{}) {
	b, _ := json.Marshal(v)
	out.Lock()
	fmt.Println(string(b))
	out.Unlock()
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: broker4 sub|pub [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	reg := fs.String("registry", "mdns", "mdns, consul or memory")
	regAddr := fs.String("registry_address", "", "registry address")
	topic := fs.String("topic", "", "topic")
	queue := fs.String("queue", "", "queue group")
	typed := fs.Bool("typed", false, "micro.NewEvent / micro.RegisterSubscriber with helloworld.Request")
	count := fs.Int("count", 1, "pub: messages to publish")
	prefix := fs.String("prefix", "go", "pub: names are <prefix>-<i>")
	ct := fs.String("content_type", "application/json", "pub: content type")
	brk := fs.String("broker", "http", "http or nats")
	brkAddr := fs.String("broker_address", "127.0.0.1:4222", "nats: servers, host:port[,host:port]")
	fs.Parse(os.Args[2:])

	var r registry.Registry
	var opts []registry.Option
	if *regAddr != "" {
		opts = append(opts, registry.Addrs(*regAddr))
	}
	if *reg == "consul" {
		r = consul.NewRegistry(opts...)
	} else if *reg == "memory" { // this process only: the nats tests need no registry traffic
		r = registry.NewMemoryRegistry()
	} else {
		r = registry.NewRegistry(opts...)
	}
	var b broker.Broker
	if *brk == "nats" {
		b = natsbroker.NewBroker(broker.Addrs(strings.Split(*brkAddr, ",")...))
	} else {
		b = broker.NewBroker(broker.Registry(r))
	}

	switch os.Args[1] {
	case "sub":
		if err := sub(r, b, *topic, *queue, *typed); err != nil {
			fmt.Fprintln(os.Stderr, "broker4:", err)
			os.Exit(1)
		}
	case "pub":
		if err := pub(r, b, *topic, *count, *prefix, *ct, *typed); err != nil {
			fmt.Fprintln(os.Stderr, "broker4:", err)
			os.Exit(1)
		}
	default:
		os.Exit(2)
	}
}

func waitSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	<-ch
}

func sub(r registry.Registry, b broker.Broker, topic, queue string, typed bool) error {
	if !typed {
		if err := b.Connect(); err != nil {
			return err
		}
		var so []broker.SubscribeOption
		if queue != "" {
			so = append(so, broker.Queue(queue))
		}
		s, err := b.Subscribe(topic, func(e broker.Event) error {
			emit(map[string]interface{}{"header": e.Message().Header, "body": string(e.Message().Body)})
			return nil
		}, so...)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		waitSignal()
		s.Unsubscribe()
		return b.Disconnect()
	}
	srv := grpcsrv.NewServer(server.Registry(r), server.Broker(b), server.Address("127.0.0.1:0"))
	svc := micro.NewService(micro.Server(srv), micro.Registry(r), micro.Broker(b),
		micro.Name("go.subscriber"), micro.AfterStart(func() error { fmt.Println("ready"); return nil }))
	var so []server.SubscriberOption
	if queue != "" {
		so = append(so, server.SubscriberQueue(queue))
	}
	if err := micro.RegisterSubscriber(topic, svc.Server(), func(ctx context.Context, m *pb.Request) error {
		md, _ := metadata.FromContext(ctx)
		emit(map[string]interface{}{"header": md, "name": m.Name})
		return nil
	}, so...); err != nil {
		return err
	}
	return svc.Run()
}

func pub(r registry.Registry, b broker.Broker, topic string, count int, prefix, ct string, typed bool) error {
	if err := b.Connect(); err != nil {
		return err
	}
	defer b.Disconnect()
	var ev micro.Event
	if typed {
		c := grpccli.NewClient(client.Registry(r), client.Broker(b), client.ContentType(ct))
		ev = micro.NewEvent(topic, c)
	}
	for i := 0; i < count; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		ctx := metadata.NewContext(context.Background(), metadata.Metadata{"X-From": "go"})
		var err error
		if typed {
			err = ev.Publish(ctx, &pb.Request{Name: name})
		} else {
			body, _ := json.Marshal(map[string]string{"name": name})
			err = b.Publish(topic, &broker.Message{
				Header: map[string]string{"Content-Type": "application/json", "X-From": "go"},
				Body:   body,
			})
		}
		if err != nil {
			return fmt.Errorf("publish %d: %w", i, err)
		}
		// go-micro's HTTP broker sends from a backlog in a goroutine per Publish, up to 8 messages
		// each, and never sends what is left there once publishing stops: give each call time to
		// send its own message.
		time.Sleep(10 * time.Millisecond)
	}
	// Its goroutines die with the process: let the last ones finish.
	time.Sleep(time.Second)
	return nil
}
