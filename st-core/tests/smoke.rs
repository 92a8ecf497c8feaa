//! Smoke test of the dispatch path: broadcasting add, views, promotion, errors.
use st_core::{DType, Device, Tensor};

#[test]
fn add_broadcast_and_views() {
    let d = Device::cpu();
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3], &d).unwrap();
    let b = Tensor::from_vec(vec![10.0f32, 20.0, 30.0], [3], &d).unwrap();
    let c = a.add(&b).unwrap();
    assert_eq!(
        c.to_vec::<f32>().unwrap(),
        vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]
    );
    let t = a
        .t()
        .unwrap()
        .add(&Tensor::scalar(1.0, DType::F32, &d).unwrap())
        .unwrap();
    assert_eq!(
        t.to_vec::<f32>().unwrap(),
        vec![2.0, 5.0, 3.0, 6.0, 4.0, 7.0]
    );
    let i = Tensor::from_vec(vec![1i32, 2, 3], [3], &d).unwrap();
    assert_eq!(i.add(&b).unwrap().dtype(), DType::F32);
    let e = a
        .add(&Tensor::zeros([4], DType::F32, &d).unwrap())
        .unwrap_err();
    println!("{e}");
}
