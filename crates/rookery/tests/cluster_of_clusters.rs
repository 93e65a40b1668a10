//! A cluster of clusters (CM-34, CM-36): two dynamic clusters, each of two
//! members on one storage root with its own etcd, behind two frontends;
//! two directory servers replicated by OpenLDAP (syncrepl provider and
//! consumer). Accounts' `hostServer` names their dynamic cluster; the
//! frontends route each session and each message to the member that has
//! the account open. Each process on its own loopback address.

mod common;

use common::dynamic::{self, DynMember, Place, read, send};
use testkit::etcd::Etcd;
use testkit::slapd::Slapd;

const DC1: &str = "dc1.test";
const DC2: &str = "dc2.test";

#[test]
fn frontends_route_to_the_dynamic_clusters_and_survive_a_directory_server_and_a_member() {
    let provider = Slapd::start_provider().unwrap();
    let mut consumer = Slapd::start_consumer(&provider).unwrap();
    let (etcd1, etcd2) = (Etcd::start().unwrap(), Etcd::start().unwrap());
    let (storage1, storage2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dc1 = [DynMember::named("m1.dc1.test", "127.0.25.1"), DynMember::named("m2.dc1.test", "127.0.25.2")];
    let dc2 = [DynMember::named("m1.dc2.test", "127.0.25.3"), DynMember::named("m2.dc2.test", "127.0.25.4")];
    let fronts = [DynMember::named("f1.test", "127.0.25.5"), DynMember::named("f2.test", "127.0.25.6")];
    let every_ip: Vec<&str> = dc1.iter().chain(&dc2).chain(&fronts).map(|m| m.ip()).collect();

    // Members write to the provider and read from it, the consumer
    // second (CM-36: backends update the master).
    let (provider_url, consumer_url) = (provider.url(), consumer.url());
    let members_directory = (provider_url.as_str(), std::slice::from_ref(&consumer_url));
    let start_members = |cluster: &str, etcd: &Etcd, storage: &std::path::Path, members: &[DynMember]| {
        members
            .iter()
            .map(|me| {
                let allow: Vec<&str> = every_ip.iter().copied().filter(|ip| *ip != me.ip()).collect();
                let place =
                    Place { cluster, etcd, storage, directory: members_directory, allow: &allow, idle_release: "60s" };
                dynamic::start_in(&provider, me, place)
            })
            .collect::<Vec<_>>()
    };
    let mut dc1_members = start_members(DC1, &etcd1, storage1.path(), &dc1);
    let dc2_members = start_members(DC2, &etcd2, storage2.path(), &dc2);
    let member_ips: Vec<&str> = dc1.iter().chain(&dc2).map(|m| m.ip()).collect();
    let clusters = [(DC1, &etcd1), (DC2, &etcd2)];
    // One frontend prefers the consumer, the other the provider.
    let frontends = [
        dynamic::start_frontend(
            &provider,
            &fronts[0],
            (consumer_url.as_str(), std::slice::from_ref(&provider_url)),
            &clusters,
            &member_ips,
        ),
        dynamic::start_frontend(
            &provider,
            &fronts[1],
            (provider_url.as_str(), std::slice::from_ref(&consumer_url)),
            &clusters,
            &member_ips,
        ),
    ];

    // Accounts made through a member of each cluster are hosted by it.
    let a1 = dynamic::accounts_in(&dc1_members[0], "one.example", 2);
    let a2 = dynamic::accounts_in(&dc2_members[1], "two.example", 2);

    // Mail for both clusters through both frontends, read through both.
    for (i, frontend) in frontends.iter().enumerate() {
        send(frontend, &a1[0], &format!("dc1-{i}"));
        send(frontend, &a2[0], &format!("dc2-{i}"));
    }
    for frontend in &frontends {
        assert_eq!(read(frontend, &a1[0], 2).len(), 2);
        assert_eq!(read(frontend, &a2[0], 2).len(), 2);
    }
    // Each account is open in its own cluster only.
    let owner = |member: &testkit::TestServer, account: &str| member.admin(&["cluster", "owner", account]).unwrap();
    assert!(owner(&dc1_members[1], &a1[0]).trim().ends_with(DC1), "{}", owner(&dc1_members[1], &a1[0]));
    assert!(owner(&dc2_members[0], &a2[0]).trim().ends_with(DC2), "{}", owner(&dc2_members[0], &a2[0]));

    // The consumer stops: the frontend that prefers it reads from the
    // provider, and new logins and mail keep working.
    consumer.kill();
    for (i, frontend) in frontends.iter().enumerate() {
        send(frontend, &a1[1], &format!("no-consumer-{i}"));
    }
    assert_eq!(read(&frontends[0], &a1[1], 2).len(), 2);
    assert_eq!(read(&frontends[1], &a2[1], 0).len(), 0);

    // The dc1 member that has the account open dies: the frontends route
    // to the other one once its lease has expired.
    let holder = owner(&dc1_members[1], &a1[0]).trim().to_owned();
    let index = dc1.iter().position(|m| m.name == holder).expect("a dc1 member holds it");
    dc1_members[index].kill();
    // A login through a frontend right after the kill waits for the
    // failover rather than failing.
    let subjects = dynamic::subjects(&frontends[1], &a1[0]).expect("the login waits out the failover");
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    send(&frontends[0], &a1[0], "after-kill");
    let subjects = read(&frontends[1], &a1[0], 3);
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    assert!(subjects.contains(&"after-kill".to_owned()));
}
