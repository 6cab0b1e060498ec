#[test]
fn dump_schema() {
    println!("{}", leasebox_policy::config::json_schema());
    let v = leasebox_policy::config::validate(r#"{"namespacePrefix":"-x","backend":"deployment","in_cluster":true,"egressAllowCidrs":["10.0.0.0/8","1.2.3.4/40",{"cidr":"10.1.0.0/16","ports":[{"port":0,"protocol":"icmp"}]}],"defaultResources":{"requests":{"cpu":"3","memory":"1Gi"},"limits":{"cpu":"abc","memory":"512Mi"}},"workspace":{"type":"pvc","size":"0"},"gpu":"2","quota":{"pods":0,"minCpu":"1"},"tolerations":[{"value":"x","tolerationSeconds":5}],"adapterType":"foo","imageRegistry":"https://x","nodeSelector":{"a/b/c":"d"},"supervisor":{"image":"x","binary":"sv","install":[]},"serverCallback":{"namespace":"A","podLabels":{},"port":"80"}}"#);
    for i in v.errors { println!("ERR {:?}: {}", i.path, i.message); }
    let v = leasebox_policy::config::validate(r#"{"inCluster":true,"gpu":2,"quota":{"maxCpu":"1","defaultCpu":"1"},"egressAllowFqdns":["x.example.com"]}"#);
    for i in v.errors { println!("ERR {:?}: {}", i.path, i.message); }
    for i in v.warnings { println!("WARN {:?}: {}", i.path, i.message); }
}
