module github.com/micro-cpp/tests/gofixtures

go 1.21

require (
	github.com/miekg/dns v1.1.43
	go-micro.dev/v4 v4.11.0
)

require (
	github.com/google/uuid v1.3.0 // indirect
	golang.org/x/net v0.23.0 // indirect
	golang.org/x/sys v0.18.0 // indirect
)
