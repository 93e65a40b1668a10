use super::*;

fn parts(uri: &str) -> Option<(String, String)> {
    split(&uri.parse::<Uri>().unwrap())
}

#[test]
fn cluster_paths_split_into_the_member_and_its_path() {
    assert_eq!(parts("/Cluster/127.0.0.3/admin/domains"), Some(("127.0.0.3".into(), "/admin/domains".into())));
    assert_eq!(parts("/Cluster/sv1.test/"), Some(("sv1.test".into(), "/".into())));
    assert_eq!(parts("/Cluster/sv1.test"), Some(("sv1.test".into(), "/".into())));
    assert_eq!(
        parts("/Cluster/sv1.test/api/v1/queue?limit=5"),
        Some(("sv1.test".into(), "/api/v1/queue?limit=5".into()))
    );
    assert_eq!(parts("/Cluster/sv%31.test/x"), Some(("sv1.test".into(), "/x".into())));
    assert_eq!(parts("/Cluster/"), None);
    assert_eq!(parts("/Cluster//admin"), None);
    assert_eq!(parts("/admin/"), None);
}

#[test]
fn a_browser_without_a_login_is_sent_to_the_login_page_and_a_client_gets_401() {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, "text/html,application/xhtml+xml".parse().unwrap());
    let response = refused(&headers);
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers().get(header::LOCATION).unwrap(), "/admin/login");
    headers.insert(header::AUTHORIZATION, "Basic d3Jvbmc6d3Jvbmc=".parse().unwrap());
    assert_eq!(refused(&headers).status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused(&HeaderMap::new()).status(), StatusCode::UNAUTHORIZED);
}
