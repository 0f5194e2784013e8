"""The 60-minute blitz's "Training a classifier" (CIFAR-10 CNN), on CIFAR-shaped random data."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from corpus_io import report, share_initial_state
from torch.utils.data import DataLoader, TensorDataset

classes = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# CIFAR-10 replaced by random images of its shape (no download): 32 train, 16 test.
rng = np.random.default_rng(0)
train_x = rng.standard_normal((32, 3, 32, 32)).astype(np.float32)
train_y = rng.integers(0, 10, 32)
test_x = rng.standard_normal((16, 3, 32, 32)).astype(np.float32)
test_y = rng.integers(0, 10, 16)
trainset = TensorDataset(torch.from_numpy(train_x), torch.from_numpy(train_y))
# The tutorial shuffles; the two libraries' shuffles differ, so this corpus keeps the order.
trainloader = DataLoader(trainset, batch_size=4, shuffle=False, num_workers=0)
testloader = DataLoader(TensorDataset(torch.tensor(test_x), torch.tensor(test_y)), batch_size=4)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


net = Net()
share_initial_state(net)

criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

losses = []
for epoch in range(2):  # loop over the dataset multiple times
    running_loss = 0.0
    for i, data in enumerate(trainloader, 0):
        # get the inputs; data is a list of [inputs, labels]
        inputs, labels = data

        # zero the parameter gradients
        optimizer.zero_grad()

        # forward + backward + optimize
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()

        running_loss += loss.item()
        if i % 4 == 3:
            print(f"[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 4:.3f}")
            losses.append(running_loss / 4)
            running_loss = 0.0
print("Finished Training")

correct = 0
total = 0
correct_pred = {classname: 0 for classname in classes}
with torch.no_grad():
    for data in testloader:
        images, labels = data
        # calculate outputs by running images through the network
        outputs = net(images)
        # the class with the highest energy is what we choose as prediction
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()
        for label, prediction in zip(labels, predicted):
            if label == prediction:
                correct_pred[classes[label]] += 1
print(f"Accuracy of the network on the 16 test images: {100 * correct // total} %")
report(
    losses=losses,
    correct=correct,
    per_class=[correct_pred[c] for c in classes],
    logits=net(torch.from_numpy(test_x[:2])).detach().numpy(),
)
