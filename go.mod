module github.com/hooktunnel/hooktunnel

go 1.26
