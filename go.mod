module github.com/gravestench/servicemesh

go 1.25

require github.com/gravestench/eventemitter v0.0.0-20230922020814-8ccd81f6aaf9
