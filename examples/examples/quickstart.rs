//! SpiralTorch in one page: tensors, broadcasting, views, matmul, autograd, and errors.
//!
//! ```text
//! cargo run --release -p st-examples --example quickstart
//! ```

use st_core::{DType, Device, Tensor};

fn main() -> st_core::Result<()> {
    let cpu = Device::cpu();

    // Tensors: N-d, any dtype, created from host data or constants.
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3], &cpu)?;
    let ones = Tensor::ones([2, 3], DType::F32, &cpu)?;
    println!(
        "a = {:?} {:?} {:?}",
        a.dims(),
        a.dtype(),
        a.to_vec::<f32>()?
    );
    println!("a + 1 = {:?}", a.add(&ones)?.to_vec::<f32>()?);

    // Broadcasting follows NumPy: [2, 3] + [3] adds the row to every row.
    let row = Tensor::from_vec(vec![10.0f32, 20.0, 30.0], [3], &cpu)?;
    println!("a + row = {:?}", a.add(&row)?.to_vec::<f32>()?);

    // Views share storage: transpose and slice change only the layout (shape, strides, offset).
    let at = a.t()?;
    let col = a.slice(1, 1, 3, 1)?;
    println!(
        "a.t() = {:?} strides {:?}, shares storage: {}",
        at.dims(),
        at.strides(),
        at.same_storage(&a)
    );
    println!(
        "a[:, 1:3] = {:?}, shares storage: {}",
        col.to_vec::<f32>()?,
        col.same_storage(&a)
    );

    // Matrix product: [2, 3] @ [3, 2] -> [2, 2].
    let p = a.matmul(&at)?;
    println!("a @ a.t() = {:?} {:?}", p.dims(), p.to_vec::<f32>()?);

    // Autograd: y = sum(w * x); dy/dw = x.
    let w = Tensor::from_vec(vec![0.5f32, -1.0, 2.0], [3], &cpu)?.requires_grad_()?;
    let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3], &cpu)?;
    let y = w.mul(&x)?.sum_all()?;
    y.backward()?;
    println!("y = {}", y.to_scalar::<f32>()?);
    if let Some(g) = w.grad() {
        println!("dy/dw = {:?} (equals x)", g.to_vec::<f32>()?);
    }

    // Bad input is an error value naming the op and the shapes, never a panic.
    let b = Tensor::zeros([4, 5], DType::F32, &cpu)?;
    match a.matmul(&b) {
        Ok(_) => println!("unexpected: [2, 3] @ [4, 5] succeeded"),
        Err(e) => println!("a @ zeros([4, 5]) -> error: {e}"),
    }
    Ok(())
}
