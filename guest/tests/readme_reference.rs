#[test]
fn dump_schema() {
    println!("{}", leasebox_policy::config::json_schema());
}
