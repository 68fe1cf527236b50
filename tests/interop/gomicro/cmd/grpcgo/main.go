// Command grpcgo serves helloworld.Greeter/Hello with plain grpc-go, no go-micro: the echo
// benchmark's baseline for what Go's own gRPC costs per request (tests/bench/echo_bench.sh).
//
//	grpcgo 127.0.0.1:PORT    serves until killed; prints "ready" once listening
package main

import (
	"context"
	"fmt"
	"net"
	"os"

	"google.golang.org/grpc"

	pb "github.com/micro-cpp/tests/gomicro/greeterpb"
)

type greeter interface {
	Hello(context.Context, *pb.Request) (*pb.Response, error)
}

type server struct{}

func (server) Hello(_ context.Context, req *pb.Request) (*pb.Response, error) {
	return &pb.Response{Msg: req.Name}, nil
}

func hello(srv interface{}, ctx context.Context, dec func(interface{}) error,
	_ grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(pb.Request)
	if err := dec(in); err != nil {
		return nil, err
	}
	return srv.(greeter).Hello(ctx, in)
}

// The descriptor protoc-gen-go-grpc would write for the unary method.
var desc = grpc.ServiceDesc{
	ServiceName: "helloworld.Greeter",
	HandlerType: (*greeter)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Hello", Handler: hello}},
	Metadata:    "greeter.proto",
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: grpcgo host:port")
		os.Exit(2)
	}
	lis, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	s.RegisterService(&desc, server{})
	fmt.Println("ready")
	if err := s.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
