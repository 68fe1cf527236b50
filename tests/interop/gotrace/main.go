// Command gotrace is one Go hop of a trace that crosses go-micro and micro-cpp:
// a go-micro v4 node (gRPC server and client plugins, Consul registry) whose
// handler and client carry go-micro's OpenTelemetry wrapper
// (github.com/go-micro/plugins/v4/wrapper/trace/opentelemetry), exporting spans
// with the OpenTelemetry SDK's OTLP/HTTP exporter.
//
//	gotrace -registry_address 127.0.0.1:8500 -name go.relay -next cpp.back -otlp 127.0.0.1:4318
//
// It serves helloworld.Greeter; Hello calls Greeter.Hello of -next with its own
// context (so the trace goes on) and answers "go relay: <next's answer>". It
// prints "ready" once registered and stops on SIGTERM, flushing its spans.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	grpccli "github.com/go-micro/plugins/v4/client/grpc"
	"github.com/go-micro/plugins/v4/registry/consul"
	grpcsrv "github.com/go-micro/plugins/v4/server/grpc"
	otelwrap "github.com/go-micro/plugins/v4/wrapper/trace/opentelemetry"
	micro "go-micro.dev/v4"
	"go-micro.dev/v4/client"
	"go-micro.dev/v4/registry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	pb "github.com/micro-cpp/tests/gomicro/greeterpb"
)

// Greeter is named for its proto service: go-micro registers endpoints as <type>.<method>.
type Greeter struct {
	c    client.Client
	next string
}

func (r *Greeter) Hello(ctx context.Context, req *pb.Request, rsp *pb.Response) error {
	var out pb.Response
	if err := r.c.Call(ctx, r.c.NewRequest(r.next, "Greeter.Hello", req), &out); err != nil {
		return err
	}
	rsp.Msg = "go relay: " + out.Msg
	return nil
}

func main() {
	regAddr := flag.String("registry_address", "127.0.0.1:8500", "Consul address")
	name := flag.String("name", "go.relay", "service name")
	next := flag.String("next", "cpp.back", "service to call from Hello")
	otlp := flag.String("otlp", "127.0.0.1:4318", "OTLP/HTTP collector host:port")
	flag.Parse()

	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(*otlp),
		otlptracehttp.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(100*time.Millisecond)),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", *name))))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{},
		propagation.Baggage{}))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
	}()

	reg := consul.NewRegistry(registry.Addrs(*regAddr))
	c := grpccli.NewClient(client.Registry(reg))
	s := micro.NewService(
		micro.Server(grpcsrv.NewServer()), micro.Client(c), micro.Registry(reg), micro.Name(*name),
		micro.Address("127.0.0.1:0"),
		micro.WrapHandler(otelwrap.NewHandlerWrapper(otelwrap.WithTraceProvider(tp))),
		micro.WrapCall(otelwrap.NewCallWrapper(otelwrap.WithTraceProvider(tp))),
		micro.AfterStart(func() error { fmt.Println("ready"); return nil }))
	if err := micro.RegisterHandler(s.Server(), &Greeter{c: s.Client(), next: *next}); err != nil {
		log.Fatal(err)
	}
	if err := s.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
